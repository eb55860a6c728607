#!/usr/bin/env bash
# Cluster test: brokers killed with SIGKILL recover their logs and serve
# every acknowledged record (3 controllers + 3 brokers, RF 1, mTLS).
#
#   broker_restart.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS
#
#  1. kill -9 of a broker in the middle of an acks=all produce: the
#     producer stops at the first failed request and writes how many
#     records each partition had acknowledged; after a restart every one
#     of them is fetched back, in order, with its content.
#  2. the same with acks=1 after all 100,000 were acknowledged, killing all
#     three brokers at once.
source "$(dirname "$0")/broker_lib.sh"

cluster_start
tcli create-topic crash 6 >/dev/null || fail "create crash"
V=$(leader_of crash 0)
[ "$V" -eq 1 ] && BOOT=$BP2
tcli produce crash --count 2000000 --acks -1 --batch 50 --inflight 4 \
    --ack-file "$TMP/acked" >"$TMP/producer.out" 2>&1 &
PROD=$!
PIDS[producer]=$PROD
sleep 1
kill9 "b$V"
wait "$PROD" && fail "producer did not notice the kill"
unset "PIDS[producer]"
ACKED=$(awk '{s += $2} END {print s}' "$TMP/acked")
[ "$ACKED" -gt 1000 ] || fail "only $ACKED records acknowledged before kill"
log "ok: broker $V killed -9 after $ACKED acknowledged records"
restart_brk "$V"
tcli consume crash --expect-file "$TMP/acked" --timeout-ms 60000 ||
    fail "acknowledged records lost after kill -9"
log "ok: every acknowledged record served after restart"

tcli create-topic crash1 3 >/dev/null || fail "create crash1"
tcli produce crash1 --count 100000 --acks 1 >/dev/null ||
    fail "produce after restart"
for i in 1 2 3; do kill9 "b$i"; done
for i in 1 2 3; do restart_brk $i; done
tcli consume crash1 --count 100000 --timeout-ms 60000 ||
    fail "records lost after kill -9 of every broker"
grep -q "open dir=.*crash1-0" "$TMP"/b*.log || fail "crash1-0 never reopened"
log "ok: kill -9 of all brokers: all 100,000 acks=1 records served"
STATUS=0
log "PASS"
