#!/usr/bin/env bash
# Figures for consumer-group rebalances (not a pass/fail test; run it with
# a release build and quote what it prints):
#
#   tests/cluster/group_rebalance_figures.sh STRATA_CONTROLLER STRATA_BROKER \
#       TESTCLI GEN_CERTS GROUP_CONSUMER [HEARTBEAT_MS] [ROUNDS]
#
# A group of 10 consumers on a 60-partition topic (RF 1, 3 brokers) while
# a producer writes 6,000 records/s; then an 11th member joins, ROUNDS
# times (it leaves again between rounds). Printed per round:
#   join->assigned  from the joiner's subscribe to the moment it holds its
#                   whole share (5 or 6 partitions), i.e. the rebalance;
#   longest pause   the longest gap between two records seen by each of
#                   the 10 members while the joiner came in (they keep all
#                   but the partitions that moved to the joiner).
# HEARTBEAT_MS is group.consumer.heartbeat.interval.ms (default 5000, as
# the brokers' default): a member learns of a revocation or of freed
# partitions at its next heartbeat, so it bounds the rebalance time.
GC=$5
HB=${6:-5000}
ROUNDS=${7:-3}
source "$(dirname "$0")/broker_lib.sh"

BOOTS="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
start_consumer() {
    "$GC" "$BOOTS" "$TMP/certs" consume gf tf "$TMP/$1.records" \
        >>"$TMP/$1.out" 2>>"$TMP/$1.log" &
    PIDS[$1]=$!
}
assigned() {
    grep '^assigned' "$TMP/$1.out" 2>/dev/null | tail -n 1 | cut -d' ' -f2
}
count_of() {
    local a
    a=$(assigned "$1")
    [ -z "$a" ] && { echo 0; return; }
    echo "$a" | tr ',' '\n' | grep -c .
}
covered_by() {
    local all=""
    for c in "$@"; do all="$all,$(assigned "$c")"; done
    [ "$(echo "$all" | tr ',' '\n' | grep -c .)" -eq 60 ] &&
        [ "$(echo "$all" | tr ',' '\n' | grep . | sort -u | wc -l)" -eq 60 ]
}
MEMBERS="m1 m2 m3 m4 m5 m6 m7 m8 m9 m10"

cluster_start "group.consumer.session.timeout.ms=30000" \
    "group.consumer.heartbeat.interval.ms=$HB"
"$GC" "$BOOTS" "$TMP/certs" create tf 60 1 >/dev/null || fail "create tf"
"$GC" "$BOOTS" "$TMP/certs" produce tf 100000000 6000 \
    >"$TMP/producer.out" 2>>"$TMP/producer.log" &
PIDS[producer]=$!
for m in $MEMBERS; do start_consumer "$m"; done
wait_until 120 eval 'covered_by $MEMBERS && for m in $MEMBERS; do [ "$(count_of $m)" -eq 6 ] || exit 1; done' ||
    fail "10 members did not settle on 6 partitions each"
log "10 members hold 6 partitions each (heartbeat.interval.ms=$HB)"
for r in $(seq 1 "$ROUNDS"); do
    sleep 2
    for m in $MEMBERS; do kill -USR1 "${PIDS[$m]}"; done
    rm -f "$TMP/j.out"
    start_consumer j
    wait_until 120 eval '[ "$(count_of j)" -ge 5 ] && covered_by $MEMBERS j' ||
        fail "the 11th member did not get its share"
    SUB=$(grep -o 'subscribed t=[0-9]*' "$TMP/j.out" | tail -n 1 | cut -d= -f2)
    GOT=$(grep '^assigned' "$TMP/j.out" | tail -n 1 | grep -o 't=[0-9]*' | cut -d= -f2)
    sleep 1
    for m in $MEMBERS; do kill -USR1 "${PIDS[$m]}"; done
    sleep 0.5
    MAX=0 ALL=""
    for m in $MEMBERS; do
        g=$(grep -o 'maxgap_ms=[0-9]*' "$TMP/$m.out" | tail -n 1 | cut -d= -f2)
        ALL="$ALL $g"
        [ "$g" -gt "$MAX" ] && MAX=$g
    done
    log "round $r: join->assigned $((GOT - SUB)) ms (joiner holds $(count_of j)); longest pause of the 10 others: $MAX ms (each:$ALL)"
    kill -TERM "${PIDS[j]}"
    wait "${PIDS[j]}"
    unset "PIDS[j]"
    wait_until 120 eval 'covered_by $MEMBERS' || fail "no resettle after leave"
done
STATUS=0
