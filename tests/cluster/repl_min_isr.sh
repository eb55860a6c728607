#!/bin/bash
# min.insync.replicas=2 with two brokers down: acks=all is refused with
# NOT_ENOUGH_REPLICAS (41) before anything is appended, acks=1 is still
# accepted; when the brokers return, the ISR heals and acks=all works. Then
# an idempotent batch resent after a leader change is answered with its
# original offsets (not written twice), offsets stay dense, and an
# out-of-order sequence is refused (OUT_OF_ORDER_SEQUENCE, 81). An acks=all
# produce appended while the ISR then shrinks below min.insync.replicas is
# answered NOT_ENOUGH_REPLICAS_AFTER_APPEND (42, outcome unknown).
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
cluster_start
rcli create-topic m 1 3 min.insync.replicas=2 >/dev/null || fail "create"
wait_isr m 1 3
L=$(leader_id m 0)
F=""
for i in 1 2 3; do [ "$i" != "$L" ] && F="$F $i"; done
for i in $F; do kill9 "b$i"; done
log "followers$F killed; waiting for the ISR of m-0 to shrink to {$L}"
wait_isr m 1 1 30
rcli expect-produce m 0 -1 41 || fail "acks=all not refused"
rcli expect-produce m 0 1 0 || fail "acks=1 refused"
log "ok: acks=all refused (NOT_ENOUGH_REPLICAS), acks=1 accepted"
for i in $F; do restart_brk "$i"; done
wait_isr m 1 3 60
rcli expect-produce m 0 -1 0 || fail "acks=all after healing"
log "ok: ISR healed, acks=all accepted again"

rcli create-topic a 1 3 min.insync.replicas=2 >/dev/null || fail "create a"
wait_isr a 1 3
L=$(leader_id a 0)
F=""
for i in 1 2 3; do [ "$i" != "$L" ] && F="$F $i"; done
for i in $F; do kill -STOP "${PIDS[b$i]}"; done
log "followers$F of a-0 stopped; an acks=all produce waits while the ISR shrinks"
"$RCLI_BIN" --bootstrap "127.0.0.1:${BPORT[$L]}" --certs "$TMP/certs" \
    expect-produce a 0 -1 42 --produce-timeout-ms 15000 ||
    fail "no NOT_ENOUGH_REPLICAS_AFTER_APPEND"
for i in $F; do kill -CONT "${PIDS[b$i]}"; done
wait_isr a 1 3 60
log "ok: appended, then the ISR fell below min.insync: outcome unknown (42)"

rcli create-topic u 1 3 >/dev/null || fail "create u"
wait_isr u 1 3
read -r B0 PID EP <<<"$(rcli idem-batch u 0 0)" || fail "batch 0"
read -r B1 _ _ <<<"$(rcli idem-batch u 0 10 --pid "$PID" --epoch "$EP")" || fail "batch 10"
[ "$B0" = 0 ] && [ "$B1" = 10 ] || fail "offsets $B0 $B1"
wait_until 20 digests_equal u 0 || fail "not replicated"
L=$(leader_id u 0)
kill9 "b$L"
log "leader $L of u-0 killed after two idempotent batches; resending the second"
read -r B1b _ _ <<<"$(rcli idem-batch u 0 10 --pid "$PID" --epoch "$EP")" || fail "resend"
[ "$B1b" = 10 ] || fail "resent batch got offset $B1b, want 10 (the original)"
read -r B2 _ _ <<<"$(rcli idem-batch u 0 20 --pid "$PID" --epoch "$EP")" || fail "batch 20"
[ "$B2" = 20 ] || fail "next batch at $B2, want 20 (dense)"
OUT=$(rcli idem-batch u 0 40 --pid "$PID" --epoch "$EP")
[ "$OUT" = "error 81" ] || fail "out-of-order sequence answered '$OUT'"
restart_brk "$L"
rcli read u --out "$TMP/u.reads" >/dev/null || fail "read u"
[ "$(wc -l <"$TMP/u.reads")" = 30 ] || fail "$(wc -l <"$TMP/u.reads") records, want 30"
awk '$2 != NR - 1 || $3 != NR - 1 {exit 1}' "$TMP/u.reads" || fail "offsets not dense"
log "ok: duplicate after failover answered with offset 10, offsets dense 0..29, out-of-order refused"
STATUS=0
