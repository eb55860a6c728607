#!/bin/bash
# Divergence (KIP-101/279): the leader of a 1-partition RF=3 topic takes
# acks=1 writes that no follower has (both followers SIGSTOPped), then is
# kill -9'd; a follower becomes leader and takes other writes (acks=all);
# the old leader returns, truncates its divergent suffix and converges:
# the three replicas hold the same bytes.
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
cluster_start
rcli create-topic d 1 3 >/dev/null || fail "create"
wait_isr d 1 3
rcli produce d --count 1000 --batch 100 --acks -1 >/dev/null || fail "prefix"
wait_until 20 digests_equal d 0 || fail "prefix not replicated"
L=$(leader_id d 0)
F=""
for i in 1 2 3; do [ "$i" != "$L" ] && F="$F $i"; done
log "leader $L, followers$F: stop the followers, write acks=1 to $L"
for i in $F; do kill -STOP "${PIDS[b$i]}"; done
# Straight to the leader: every broker in the bootstrap would wait for
# the stopped ones.
RCLI_ONE() { "$RCLI_BIN" --bootstrap "127.0.0.1:${BPORT[$L]}" --certs "$TMP/certs" "$@"; }
for k in 1 2 3; do
    RCLI_ONE expect-produce d 0 1 0 >/dev/null || fail "acks=1 write $k"
done
OLD=$(RCLI_ONE replica-digest d 0 "$L")
kill9 "b$L"
for i in $F; do kill -CONT "${PIDS[b$i]}"; done
log "old leader $L killed with 30 unreplicated records (end $(echo "$OLD" | cut -d' ' -f2))"
wait_until 30 sh -c "[ \"\$(\"$RCLI_BIN\" --bootstrap 127.0.0.1:${BPORT[${F# }]} --certs $TMP/certs isr d 0 | sed 's/.*leader=\([0-9-]*\).*/\1/')\" != $L ]" ||
    fail "no new leader"
rcli produce d --count 500 --batch 50 --acks -1 --idempotent >/dev/null || fail "writes on the new leader"
log "new leader $(leader_id d 0) took 500 acks=all records"
restart_brk "$L"
wait_isr d 1 3 60
wait_until 30 digests_equal d 0 || fail "replicas of d-0 differ after the old leader returned"
NEW=$(rcli replica-digest d 0 "$L")
# A follower may have taken the first acks=1 batch from a fetch answered
# just before it stopped: those records are replicated, not divergent.
grep -q "truncate from_end=10[123]0 to=10[0-2]0" "$TMP/b$L.log" ||
    fail "old leader did not truncate its divergent suffix"
log "ok: old leader truncated its divergent suffix and converged byte for byte ($NEW)"
STATUS=0
