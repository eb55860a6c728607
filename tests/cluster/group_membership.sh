#!/usr/bin/env bash
# Consumer groups against a real cluster (3 controllers, 3 brokers, mTLS on
# 127.0.0.1; broker_lib.sh), consumers are tests/cluster/group_consumer:
#
#  1. three consumers in one group on a 6-partition topic get two
#     partitions each;
#  2. a fourth joins while a producer keeps writing: the three others keep
#     consuming; the longest gap between two records each of them saw is
#     printed and must stay under GAP_MAX_MS (one poll plus a fetch wait);
#  3. one member is kill -9'd: its partitions move to the others within
#     session.timeout.ms plus a heartbeat (the time is printed);
#  4. a static member (group.instance.id) closed and restarted within the
#     session timeout gets the same partitions back, and no other member
#     sees a revocation or an assignment meanwhile;
#  5. a member paused (SIGSTOP) past the session timeout loses its
#     partitions to the others; resumed, it gets the lost callback and the
#     ASSIGNMENT_LOST event from poll, and rejoins;
#  6. a member that stops polling past max.poll.interval.ms leaves by
#     itself (its partitions move while it is alive) and rejoins later;
#  7. the coordinator's broker is kill -9'd: the new leader of the group's
#     __consumer_offsets partition rebuilds the group from the log and the
#     members keep their partitions (no revocation, nothing lost).
#
#   group_membership.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS \
#                       GROUP_CONSUMER STRATA_CLI
GC=$5
CLI=$6
source "$(dirname "$0")/broker_lib.sh"

GSESSION_MS=${GSESSION_MS:-6000}
GHB_MS=500
GAP_MAX_MS=${GAP_MAX_MS:-1000}
BOOTS="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
gc() {
    "$GC" "$BOOTS" "$TMP/certs" "$@" 2>>"$TMP/gc.log"
}

# start_consumer NAME [key=value...]: a member of group g1 on topic t6.
start_consumer() {
    local name=$1
    shift
    "$GC" "$BOOTS" "$TMP/certs" consume g1 t6 "$TMP/$name.records" "$@" \
        >>"$TMP/$name.out" 2>>"$TMP/$name.log" &
    PIDS[$name]=$!
}

# assigned NAME: the last assignment consumer NAME printed ("t6-0,t6-3").
assigned() {
    grep '^assigned' "$TMP/$1.out" 2>/dev/null | tail -n 1 | cut -d' ' -f2
}

count_of() {
    local a
    a=$(assigned "$1")
    [ -z "$a" ] && { echo 0; return; }
    echo "$a" | tr ',' '\n' | grep -c .
}

# balanced N NAME...: every NAME holds N partitions and together all 6.
balanced() {
    local n=$1
    shift
    local all=""
    for c in "$@"; do
        [ "$(count_of "$c")" -eq "$n" ] || return 1
        all="$all,$(assigned "$c")"
    done
    [ "$(echo "$all" | tr ',' '\n' | grep -c .)" -eq 6 ] &&
        [ "$(echo "$all" | tr ',' '\n' | grep . | sort -u | wc -l)" -eq 6 ]
}

# covered NAME...: the NAMEs together hold all 6 partitions, none twice.
covered() {
    local all=""
    for c in "$@"; do
        all="$all,$(assigned "$c")"
    done
    [ "$(echo "$all" | tr ',' '\n' | grep -c .)" -eq 6 ] &&
        [ "$(echo "$all" | tr ',' '\n' | grep . | sort -u | wc -l)" -eq 6 ]
}

stop_consumer() {
    local pid=${PIDS[$1]}
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    unset "PIDS[$1]"
}

cluster_start "group.consumer.session.timeout.ms=$GSESSION_MS" \
    "group.consumer.heartbeat.interval.ms=$GHB_MS" "log.level=${GLOG:-info}"

gc create t6 6 1 >/dev/null || fail "create t6"

# A steady producer for the whole test (3,000 records/s).
"$GC" "$BOOTS" "$TMP/certs" produce t6 400000 3000 >"$TMP/producer.out" \
    2>>"$TMP/producer.log" &
PIDS[producer]=$!

# 1. three consumers, two partitions each.
start_consumer a
start_consumer b
start_consumer c
wait_until 40 balanced 2 a b c ||
    fail "3 consumers not balanced: a=$(assigned a) b=$(assigned b) c=$(assigned c)"
log "ok: 3 consumers hold 2 partitions each: a=$(assigned a) b=$(assigned b) c=$(assigned c)"

# 2. a fourth joins; the others keep consuming.
sleep 1
for c in a b c; do kill -USR1 "${PIDS[$c]}"; done
T0=$(date +%s%N)
start_consumer d
wait_until 40 eval '[ "$(count_of d)" -ge 1 ] && covered a b c d' ||
    fail "4th consumer got nothing: d=$(assigned d)"
T1=$(date +%s%N)
log "ok: 4th consumer joined; it consumed after $(((T1 - T0) / 1000000)) ms: a=$(assigned a) b=$(assigned b) c=$(assigned c) d=$(assigned d)"
sleep 1
for c in a b c; do kill -USR1 "${PIDS[$c]}"; done
sleep 0.5
GAPS="" bad=0
for c in a b c; do
    g=$(grep -o 'maxgap_ms=[0-9]*' "$TMP/$c.out" | tail -n 1 | cut -d= -f2)
    GAPS="$GAPS $c=${g}ms"
    [ -n "$g" ] && [ "$g" -lt "$GAP_MAX_MS" ] || bad=1
done
[ $bad -eq 0 ] || fail "a member paused longer than $GAP_MAX_MS ms:$GAPS"
log "ok: members that kept partitions kept consuming; longest gaps while d joined:$GAPS"

# 3. kill -9 one member: its partitions move within the session timeout
# plus a heartbeat.
wait_until 20 covered a b c d || fail "not settled before the kill"
DPARTS=$(assigned d)
T0=$(date +%s%N)
kill9 d
wait_until 60 covered a b c || fail "d's partitions ($DPARTS) did not move"
T1=$(date +%s%N)
MOVE_MS=$(((T1 - T0) / 1000000))
LIMIT=$((GSESSION_MS + GHB_MS + 1500))
log "partitions of the killed member ($DPARTS) moved in $MOVE_MS ms (session.timeout.ms=$GSESSION_MS, heartbeat=$GHB_MS)"
[ "$MOVE_MS" -le "$LIMIT" ] || fail "moved after $MOVE_MS ms > $LIMIT ms"
log "ok: a kill -9'd member's partitions moved within the session timeout plus a heartbeat"

# 4. a static member restarted within the session timeout.
start_consumer s group.instance.id=static-1
wait_until 40 eval '[ "$(count_of s)" -ge 1 ] && covered a b c s' ||
    fail "static member got nothing"
sleep 1
SPARTS=$(assigned s)
mark() { grep -c '^revoked\|^assigned' "$TMP/$1.out"; }
MA=$(mark a) MB=$(mark b) MC=$(mark c)
stop_consumer s
NS=$(grep -c '^assigned [^ ]' "$TMP/s.out")
T0=$(date +%s%N)
log "static member stopped holding $SPARTS; restarting it"
start_consumer s group.instance.id=static-1
wait_until $((GSESSION_MS / 1000)) eval \
    '[ "$(grep -c "^assigned [^ ]" "$TMP/s.out")" -gt "$NS" ]' ||
    fail "the restarted static member got nothing back in time"
T1=$(date +%s%N)
log "static member back with partitions after $(((T1 - T0) / 1000000)) ms"
sleep 1
S2=$(assigned s)
[ "$(echo "$S2" | tr ',' '\n' | sort | tr '\n' ,)" = \
  "$(echo "$SPARTS" | tr ',' '\n' | sort | tr '\n' ,)" ] ||
    fail "static member came back with $S2, had $SPARTS"
[ "$(mark a)" -eq "$MA" ] && [ "$(mark b)" -eq "$MB" ] &&
    [ "$(mark c)" -eq "$MC" ] ||
    fail "other members moved partitions during the static restart"
log "ok: the static member got $S2 back; no movement for the others"

# 5. a member paused past the session timeout loses its membership: the
# others take its partitions; when it runs again poll returns the
# ASSIGNMENT_LOST event (after the lost callback) and it rejoins.
kill -STOP "${PIDS[a]}"
APARTS=$(assigned a)
log "member a paused (SIGSTOP) holding $APARTS"
wait_until $((GSESSION_MS / 1000 + 15)) covered b c s ||
    fail "a paused member's partitions did not move"
kill -CONT "${PIDS[a]}"
wait_until 20 grep -q "^event Local: Group membership lost" "$TMP/a.out" ||
    fail "the resumed member saw no ASSIGNMENT_LOST event: $(tail -n 3 "$TMP/a.out")"
grep -q "^lost $APARTS" "$TMP/a.out" || fail "no lost callback for $APARTS"
wait_until 30 eval '[ "$(count_of a)" -ge 1 ] && covered a b c s' ||
    fail "the resumed member did not rejoin"
log "ok: a member paused past the session timeout got the lost callback and event, and rejoined with $(assigned a)"

# 6. a member that stops polling for longer than max.poll.interval.ms
# leaves the group by itself: the others take its partitions while it is
# still alive; when it polls again it gets the lost event and rejoins.
start_consumer p max.poll.interval.ms=2000 stall.after=200 stall.ms=6000
wait_until 30 grep -q "^stalling" "$TMP/p.out" || fail "member p never stalled"
PPARTS=$(assigned p)
wait_until 10 covered a b c s ||
    fail "a member not polling for max.poll.interval.ms kept $PPARTS"
log "ok: a member that stopped polling for 2 s lost $PPARTS to the others while alive"
wait_until 20 grep -q "^event Local: Group membership lost" "$TMP/p.out" ||
    fail "the member that stopped polling saw no ASSIGNMENT_LOST"
wait_until 30 eval '[ "$(count_of p)" -ge 1 ] && covered a b c s p' ||
    fail "the member that stopped polling did not rejoin"
log "ok: polling again, it got ASSIGNMENT_LOST and rejoined with $(assigned p)"
# (p would leave again while a commit blocks through the failover below.)
stop_consumer p

# 7. the coordinator's broker is kill -9'd: the group is rebuilt from the
# log on the new leader of its offsets partition, and the members keep
# their partitions: no revocation, no lost membership.
cat >"$TMP/client.properties" <<EOF
bootstrap.servers=$BOOTS
ssl.ca.location=$TMP/certs/ca.pem
ssl.certificate.location=$TMP/certs/client.pem
ssl.key.location=$TMP/certs/client.key
EOF
coordinator() {
    STRATA_CONFIG=$TMP/client.properties "$CLI" --timeout-ms 5000 group \
        describe g1 --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["coordinator"])'
}
moves() { cat "$TMP"/{a,b,c,s}.out | grep -c '^revoked\|^lost'; }
state() {
    STRATA_CONFIG=$TMP/client.properties "$CLI" --timeout-ms 5000 group \
        describe g1 --json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
wait_until 30 eval 'covered a b c s && [ "$(state)" = Stable ]' ||
    fail "not settled before the coordinator kill ($(state))"
sleep 1
BEFORE=$(moves)
HELD="$(assigned a) $(assigned b) $(assigned c) $(assigned s)"
COORD=$(coordinator)
[ -n "$COORD" ] || fail "no coordinator for g1"
kill9 "b$COORD"
log "coordinator broker $COORD killed (kill -9)"
wait_until 30 eval '[ -n "$(coordinator)" ] && [ "$(coordinator)" != "$COORD" ]' ||
    fail "no new coordinator after the kill"
log "broker $(coordinator) coordinates g1 now (rebuilt from __consumer_offsets)"
sleep 3
NOW="$(assigned a) $(assigned b) $(assigned c) $(assigned s)"
[ "$(moves)" -eq "$BEFORE" ] && [ "$NOW" = "$HELD" ] ||
    fail "members moved partitions across the coordinator failover: $HELD -> $NOW"
restart_brk "$COORD"
log "ok: coordinator failover: members kept $HELD, no revocation"

for c in a b c s; do stop_consumer "$c"; done
kill -TERM "${PIDS[producer]}" 2>/dev/null
STATUS=0
