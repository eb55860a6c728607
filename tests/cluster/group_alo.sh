#!/usr/bin/env bash
# At-least-once through a consumer group, end to end, on a real 3+3
# cluster (topic RF 3, __consumer_offsets RF 3):
#
# A producer writes N numbered records (200,000; STRATA_LONG=1: 1,000,000)
# while group members join, leave (SIGTERM), crash (kill -9), and the
# broker coordinating the group is kill -9'd once (and restarted). Every
# member processes a record by appending it to its file, then commits
# (synchronously, commit after processing). At the end the union of the
# files holds every record 0..N-1, and a monitor that read the committed
# offsets every 50 ms never saw one go backwards.
#
#   group_alo.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS \
#                GROUP_CONSUMER STRATA_CLI
GC=$5
CLI=$6
source "$(dirname "$0")/broker_lib.sh"

N=200000
RATE=8000
[ "${STRATA_LONG:-0}" = 1 ] && N=1000000 && RATE=15000
BOOTS="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
gc() {
    "$GC" "$BOOTS" "$TMP/certs" "$@" 2>>"$TMP/gc.log"
}
start_consumer() {
    "$GC" "$BOOTS" "$TMP/certs" consume ga ta "$TMP/$1.records" \
        >>"$TMP/$1.out" 2>>"$TMP/$1.log" &
    PIDS[$1]=$!
    log "member $1 started"
}
stop_consumer() {
    kill -TERM "${PIDS[$1]}" 2>/dev/null
    wait "${PIDS[$1]}" 2>/dev/null
    unset "PIDS[$1]"
    log "member $1 left (SIGTERM)"
}

cluster_start "group.consumer.session.timeout.ms=6000" \
    "group.consumer.heartbeat.interval.ms=500"
cat >"$TMP/client.properties" <<EOF
bootstrap.servers=$BOOTS
ssl.ca.location=$TMP/certs/ca.pem
ssl.certificate.location=$TMP/certs/client.pem
ssl.key.location=$TMP/certs/client.key
EOF
export STRATA_CONFIG=$TMP/client.properties

gc create ta 6 3 >/dev/null || fail "create ta"
"$GC" "$BOOTS" "$TMP/certs" monitor ga ta 6 600 >"$TMP/monitor.out" \
    2>"$TMP/monitor.log" &
PIDS[monitor]=$!
"$GC" "$BOOTS" "$TMP/certs" produce ta $N $RATE >"$TMP/producer.out" \
    2>>"$TMP/producer.log" &
PIDS[producer]=$!
log "producing $N records at $RATE/s"

start_consumer m1
start_consumer m2
start_consumer m3
sleep 4
start_consumer m4
sleep 2
stop_consumer m2
sleep 2
kill9 m3
log "member m3 crashed (kill -9)"
start_consumer m5
sleep 2
COORD=$("$CLI" --timeout-ms 15000 group describe ga --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])')
[ -n "$COORD" ] || fail "no coordinator for ga"
kill9 "b$COORD"
log "coordinator broker $COORD killed (kill -9)"
sleep 4
start_brk "$COORD"
log "broker $COORD restarted"
sleep 2
COORD2=$("$CLI" --timeout-ms 15000 group describe ga --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])')
log "the group is coordinated by broker $COORD2 now (state rebuilt from the log)"
start_consumer m6
kill9 m1
log "member m1 crashed (kill -9)"

wait "${PIDS[producer]}" || fail "producer: $(cat "$TMP/producer.out")"
unset "PIDS[producer]"
log "producer done: $(cat "$TMP/producer.out")"

# missing: how many of 0..N-1 no member processed.
missing() {
    # Files one by one: a crashed member's last line may be cut short.
    awk -v n=$N '
        NF == 3 { seen[$3] = 1 }
        END { m = 0; for (i = 0; i < n; i++) if (!(i in seen)) m++; print m }' \
        "$TMP"/m*.records
}
wait_until 120 eval '[ "$(missing)" -eq 0 ]' ||
    fail "$(missing) of $N records were never processed by the group"
TOTAL=$(cat "$TMP"/m*.records | wc -l)
log "ok: every one of $N records was processed ($((TOTAL - N)) duplicates after crashes)"

for m in m4 m5 m6; do stop_consumer $m; done
kill -TERM "${PIDS[monitor]}"
wait "${PIDS[monitor]}" || fail "committed offsets went backwards: $(cat "$TMP/monitor.log")"
unset "PIDS[monitor]"
grep -q "monitor ok" "$TMP/monitor.out" || fail "monitor: $(cat "$TMP/monitor.log")"
log "ok: committed offsets never went backwards ($(cat "$TMP/monitor.out"))"
STATUS=0
