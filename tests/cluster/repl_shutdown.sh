#!/bin/bash
# Controlled shutdown and preferred leaders: SIGTERM to the leader of
# s-0 (its preferred replica) moves its leaderships away through the
# controller before it exits 0, so an acks=all produce succeeds on the new
# leader well within the session timeout; when it returns and is back in
# the ISR, auto.leader.rebalance.enable gives it s-0 back.
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
cluster_start
rcli create-topic s 3 3 >/dev/null || fail "create"
wait_isr s 3 3
rcli produce s --count 3000 --batch 100 --acks -1 >/dev/null || fail "produce"
L=$(leader_id s 0)
log "SIGTERM broker $L (leader of s-0)"
term "b$L" || fail "broker $L exited non-zero"
grep -q "controlled shutdown not acknowledged" "$TMP/b$L.log" &&
    fail "controlled shutdown was not acknowledged"
OUT=$(rcli produce-until-ok s 0 --seconds 20) || fail "no produce after shutdown"
MS=$(echo "$OUT" | sed 's/ok_after_ms=\([0-9]*\).*/\1/')
[ "$MS" -lt "$SESSION_MS" ] || fail "first acks=all produce after ${MS} ms"
log "ok: controlled shutdown; acks=all on the new leader $(leader_id s 0) after ${MS} ms"
restart_brk "$L"
wait_isr s 3 3 60
back() { [ "$(leader_id s 0)" = "$L" ]; }
wait_until 40 back || fail "preferred leader $L did not get s-0 back"
rcli produce s --count 300 --batch 100 --acks -1 >/dev/null || fail "produce after"
log "ok: preferred replica $L leads s-0 again"
STATUS=0
