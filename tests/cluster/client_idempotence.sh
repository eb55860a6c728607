#!/bin/bash
# The idempotent producer across a leader kill -9: 3 controllers + 3
# brokers over mTLS, a 3-partition RF=3 topic (min.insync.replicas=2),
# 50,000 numbered records produced with acks=all and idempotence (paced
# over ~8 s) while the leader of partition 0 is kill -9'd, then restarted.
# Then: every record got exactly one delivery report, all successful, with
# offsets rising in production order per partition; reading every
# partition from the start finds each record exactly once, in production
# order, with no gap and nothing extra. Then a too-large record in a
# stream: its batch fails alone, the epoch is bumped, all else in order.
#   client_idempotence.sh CTL BRK TESTCLI GEN_CERTS REPL_TESTCLI IDEM_CHECK
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
IDEM=$6
COUNT=${IDEM_COUNT:-50000}
ENABLE=${IDEM_ENABLE:-true} # false: shows what the checks catch without it
T=idem
BOOTS="127.0.0.1:$BP1,127.0.0.1:$BP2,127.0.0.1:$BP3"

icheck() { "$IDEM" "$BOOTS" "$TMP/certs" "$@"; }

progress_over() {
    [ "$(cat "$TMP/progress" 2>/dev/null || echo 0)" -gt "$1" ]
}

cluster_start
rcli create-topic $T 3 3 min.insync.replicas=2 >/dev/null || fail "create"
wait_isr $T 3 3
log "ok: topic $T 3 partitions RF=3, ISR full"

icheck produce $T 3 "$COUNT" "$TMP/progress" "$ENABLE" 8 \
    >"$TMP/produce.out" 2>"$TMP/produce.log" &
PROD=$!
PIDS[producer]=$PROD
wait_until 30 progress_over $((COUNT / 5)) || fail "producer made no progress"
L=$(leader_id $T 0)
log "kill -9 broker $L (leader of $T-0) at $(cat "$TMP/progress") delivered"
kill9 "b$L"
sleep 1
restart_brk "$L"
log "broker $L restarted"
rc=0
wait $PROD || rc=$?
unset "PIDS[producer]"
cat "$TMP/produce.out"
[ $rc -eq 0 ] || { cat "$TMP/produce.log"; fail "producer check failed"; }
[ "$ENABLE" != true ] || grep -q "idempotence=on producer_id=[0-9]" "$TMP/produce.log" ||
    fail "the producer never got a producer id"
log "ok: producer id held; every record delivered once, offsets in order"
icheck verify $T 3 "$COUNT" || fail "read check failed"
log "ok: every partition holds its records once, in order, no gap"

# A batch refused for good (too large) leaves a hole in the sequence: the
# producer bumps its epoch and resends the batches behind it, which the
# leader refused as out of order, under new sequences.
if [ "$ENABLE" = true ]; then
    rcli create-topic big 1 3 min.insync.replicas=2 max.message.bytes=10000 \
        >/dev/null || fail "create big"
    wait_isr big 1 3
    icheck produce big 1 5000 "$TMP/progress2" true 2 2500 "$TMP/failed" \
        2>"$TMP/produce2.log" || { cat "$TMP/produce2.log"; fail "too-large check"; }
    grep -q "epoch bumped" "$TMP/produce2.log" || fail "no epoch bump"
    icheck verify big 1 5000 "$TMP/failed" || fail "read check after the bump"
    log "ok: a too-large batch failed alone; the epoch was bumped; the rest in order"
fi
STATUS=0
