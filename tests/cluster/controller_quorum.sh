#!/usr/bin/env bash
# Cluster test of the controller quorum: real strata-controller processes on
# 127.0.0.1 over mutual TLS (certificates from deploy/gen-certs.sh).
#
#   controller_quorum.sh STRATA_CONTROLLER STRATA_CLI GEN_CERTS
#
# Scenarios, in order (each wait is a bounded poll, never a long sleep):
#  1. 3 voters elect a leader.
#  2. topics created through voter 1 (redirected to the leader) are listed
#     by every voter once committed: followers answer list/describe from
#     their own applied state, so we poll each voter until it has them.
#     A topic config altered through a follower is seen by every voter; a
#     bad value is refused naming the key.
#  3. kill -9 of the leader: a new leader is elected, every topic is there
#     and a new topic can be created.
#  4. the killed voter, restarted, catches up (STRATA_LONG=1: 10 more
#     kill-leader/restart rounds).
#  5. SIGTERM on the leader: it hands leadership over and exits 0.
#  6. all three killed and restarted at once come back with the same state
#     (identical describe output on every voter).
#  7. with metadata.snapshot.max.records=10 snapshots are taken; a follower
#     restarted from an empty, re-formatted data dir catches up by snapshot.
#  8. bad input refuses to start (exit 2) naming the problem: unknown key,
#     bad value, another cluster's data dir, voter list without own id.
#     /health answers 503 on a voter that sees no leader (and 200 with a
#     leader, checked in 1 with /metrics).
#  9. a 5-voter quorum keeps working with 2 voters (one the leader) killed.
# Every process started is recorded and stopped (SIGTERM, then SIGKILL) on
# exit, also on failure; logs are printed on failure.
set -u
BIN=$1
CLI=$2
GEN=$3
TMP=$(mktemp -d /tmp/strata-ctl-test.XXXXXX)
declare -A PIDS=()
STATUS=1

log() { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] $*"; }

cleanup() {
    for k in "${!PIDS[@]}"; do
        kill -TERM "${PIDS[$k]}" 2>/dev/null
    done
    for k in "${!PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "${PIDS[$k]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${PIDS[$k]}" 2>/dev/null
        wait "${PIDS[$k]}" 2>/dev/null
        rc=$?
        if [ $rc -ne 0 ] && [ "$STATUS" -eq 0 ]; then
            log "FAIL: $k exited $rc on SIGTERM"
            STATUS=1
        fi
    done
    # Sanitizer reports (ASan, UBSan, LSan at exit) fail the test.
    if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
        "$TMP"/*.log 2>/dev/null; then
        log "FAIL: sanitizer report in the logs above"
        STATUS=1
    fi
    if [ "$STATUS" -ne 0 ]; then
        for f in "$TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last 30 lines)"
            tail -n 30 "$f"
        done
        echo "test files kept in $TMP"
        exit 1
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    log "FAIL: $*"
    exit 1
}

# n free TCP ports on 127.0.0.1.
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

bash "$GEN" "$TMP/certs" c1 c2 c3 c4 c5 >/dev/null || fail "gen-certs"

cli() {
    "$CLI" --ca "$TMP/certs/ca.pem" --cert "$TMP/certs/client.pem" \
        --key "$TMP/certs/client.key" --timeout-ms 10000 "$@"
}

# Poll "$@" every 0.1 s until it succeeds or $1 seconds pass.
wait_until() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# conf NAME ID VOTERS PORT [key=value...]: write $TMP/NAME.properties.
conf() {
    local name=$1 id=$2 voters=$3 port=$4
    shift 4
    {
        echo "node.id=$id"
        echo "controller.quorum.voters=$voters"
        echo "listeners=127.0.0.1:$port"
        echo "data.dir=$TMP/$name"
        echo "cluster.id=testcluster"
        echo "tls.ca.file=$TMP/certs/ca.pem"
        echo "tls.cert.file=$TMP/certs/c$id.pem"
        echo "tls.key.file=$TMP/certs/c$id.key"
        echo "broker.session.timeout.ms=1h"
        echo "metadata.snapshot.max.records=10"
        for kv in "$@"; do echo "$kv"; done
    } >"$TMP/$name.properties"
}

format() { "$BIN" format --config "$TMP/$1.properties" --cluster-id testcluster >/dev/null; }

start() {
    "$BIN" --config "$TMP/$1.properties" >>"$TMP/$1.log" 2>&1 &
    PIDS[$1]=$!
}

kill9() {
    kill -KILL "${PIDS[$1]}" 2>/dev/null
    wait "${PIDS[$1]}" 2>/dev/null
    unset "PIDS[$1]"
}

# leader_seen_by PORT: print the leader id PORT's voter knows (or fail).
leader_seen_by() {
    cli --bootstrap-controller "127.0.0.1:$1" --timeout-ms 1000 --json \
        quorum describe 2>/dev/null |
        python3 -c 'import json,sys; l=json.load(sys.stdin)["leader_id"]; print(l); sys.exit(0 if l > 0 else 1)'
}

# has_topics PORT NAME...: the voter at PORT lists every NAME.
has_topics() {
    local port=$1
    shift
    local list
    list=$(cli --bootstrap-controller "127.0.0.1:$port" --timeout-ms 1000 \
        topics list 2>/dev/null) || return 1
    for t in "$@"; do
        echo "$list" | awk '{print $1}' | grep -qx "$t" || return 1
    done
}

# http PORT PATH: print "STATUS BODY" of GET http://127.0.0.1:PORT/PATH.
http() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=2)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}

# ---- 1. three voters elect a leader ----
read -r P1 P2 P3 A1 <<<"$(free_ports 4)"
PORT=([1]=$P1 [2]=$P2 [3]=$P3)
VOTERS3="1@127.0.0.1:$P1,2@127.0.0.1:$P2,3@127.0.0.1:$P3"
for i in 1 2 3; do
    if [ $i -eq 1 ]; then
        conf "v$i" $i "$VOTERS3" "${PORT[$i]}" "admin.listener=127.0.0.1:$A1"
    else
        conf "v$i" $i "$VOTERS3" "${PORT[$i]}"
    fi
    format "v$i" || fail "format v$i"
    start "v$i"
done
wait_until 15 leader_seen_by "$P1" || fail "no leader elected"
LEADER=$(leader_seen_by "$P1")
health_ok() { http "$A1" /health | grep -q "^200 ok leader=$LEADER"; }
wait_until 5 health_ok || fail "/health: $(http "$A1" /health)"
http "$A1" /metrics | grep -q "^strata_raft_term [1-9]" ||
    fail "/metrics lacks strata_raft_term"
log "ok: 3 voters elected leader $LEADER; /health and /metrics answer"

# ---- 2. topics through voter 1, listed by every voter ----
for b in 1 2 3; do
    cli --bootstrap-controller "127.0.0.1:$P1" brokers register --id $b \
        >/dev/null || fail "register broker $b"
done
for t in alpha beta gamma; do
    cli --bootstrap-controller "127.0.0.1:$P1" topics create $t \
        --partitions 3 --replication-factor 3 >/dev/null ||
        fail "create $t"
done
for i in 1 2 3; do
    wait_until 10 has_topics "${PORT[$i]}" alpha beta gamma ||
        fail "voter $i does not list the topics"
done
cli --bootstrap-controller "127.0.0.1:$P2" topics describe alpha |
    grep -q "partitions 3" || fail "describe alpha"
log "ok: topics listed by every voter"
cli --bootstrap-controller "127.0.0.1:$P2" configs alter --topic alpha \
    --set retention.ms=3600000 >/dev/null || fail "configs alter alpha"
has_config() {
    cli --bootstrap-controller "127.0.0.1:$1" --timeout-ms 1000 configs \
        describe --topic alpha 2>/dev/null | grep -q "retention.ms *3600000"
}
for i in 1 2 3; do
    wait_until 10 has_config "${PORT[$i]}" || fail "voter $i lacks the config"
done
out=$(cli --bootstrap-controller "127.0.0.1:$P3" configs alter --topic alpha \
    --set retention.ms=soon 2>&1) && fail "a bad config value was accepted"
echo "$out" | grep -q "retention.ms" || fail "bad config message: $out"
log "ok: topic config altered through a follower, seen by every voter"

# ---- 3. kill -9 of the leader ----
kill9 "v$LEADER"
OLD=$LEADER
SURV=()
for i in 1 2 3; do [ $i -ne $OLD ] && SURV+=($i); done
new_leader() {
    local l
    l=$(leader_seen_by "${PORT[${SURV[0]}]}") || return 1
    [ "$l" -ne "$OLD" ]
}
wait_until 15 new_leader || fail "no new leader after kill -9 of $OLD"
LEADER=$(leader_seen_by "${PORT[${SURV[0]}]}")
cli --bootstrap-controller "127.0.0.1:${PORT[${SURV[0]}]}" topics create \
    delta --partitions 2 --replication-factor 2 >/dev/null ||
    fail "create delta after failover"
for i in "${SURV[@]}"; do
    wait_until 10 has_topics "${PORT[$i]}" alpha beta gamma delta ||
        fail "voter $i lacks topics after failover"
done
log "ok: leader $OLD killed, new leader $LEADER has every topic"

# ---- 4. the killed voter restarted catches up ----
start "v$OLD"
wait_until 15 has_topics "${PORT[$OLD]}" alpha beta gamma delta ||
    fail "restarted voter $OLD did not catch up"
log "ok: voter $OLD restarted and caught up"

# With STRATA_LONG=1 (tests/run.sh --long): 10 more kill-leader rounds,
# each creating a topic that every voter must list afterwards.
if [ "${STRATA_LONG:-0}" = 1 ]; then
    ALL=(alpha beta gamma delta)
    for round in $(seq 1 10); do
        wait_until 15 leader_seen_by "$P1" || fail "round $round: no leader"
        OLD=$(leader_seen_by "$P1")
        kill9 "v$OLD"
        cli --bootstrap-controller "127.0.0.1:$P1,127.0.0.1:$P2,127.0.0.1:$P3" \
            --timeout-ms 20000 topics create "round$round" --partitions 1 \
            --replication-factor 1 >/dev/null || fail "round $round: create"
        ALL+=("round$round")
        start "v$OLD"
        for i in 1 2 3; do
            wait_until 15 has_topics "${PORT[$i]}" "${ALL[@]}" ||
                fail "round $round: voter $i lacks topics"
        done
    done
    log "ok: 10 more kill-leader rounds (long mode)"
fi

# ---- 5. SIGTERM on the leader hands leadership over ----
wait_until 10 leader_seen_by "$P1" || fail "no leader before SIGTERM"
LEADER=$(leader_seen_by "$P1")
LPID=${PIDS[v$LEADER]}
kill -TERM "$LPID"
for _ in $(seq 1 100); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LPID" 2>/dev/null && fail "leader $LEADER did not stop on SIGTERM"
wait "$LPID"
RC=$?
unset "PIDS[v$LEADER]"
[ $RC -eq 0 ] || fail "leader $LEADER exited $RC on SIGTERM"
grep -q "leadership handed over" "$TMP/v$LEADER.log" ||
    fail "leader $LEADER did not hand leadership over"
start "v$LEADER"
log "ok: SIGTERM on leader $LEADER: handed over, exit 0"

# ---- 6. all three restarted at once ----
for i in 1 2 3; do
    wait_until 15 has_topics "${PORT[$i]}" alpha beta gamma delta ||
        fail "voter $i lacks topics before the full restart"
done
for i in 1 2 3; do kill9 "v$i"; done
for i in 1 2 3; do start "v$i"; done
wait_until 15 leader_seen_by "$P1" || fail "no leader after full restart"
describe_all() {
    cli --bootstrap-controller "127.0.0.1:$1" --timeout-ms 1000 --json \
        topics describe alpha beta gamma delta |
        python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("applied_offset"); print(json.dumps(d, sort_keys=True))'
}
same_state() {
    local a b c
    a=$(describe_all "$P1") && b=$(describe_all "$P2") &&
        c=$(describe_all "$P3") && [ "$a" = "$b" ] && [ "$b" = "$c" ] &&
        echo "$a" | grep -q delta
}
wait_until 15 same_state || fail "voters differ after the full restart"
log "ok: all three restarted, same state on every voter"

# ---- 7. snapshots; a follower from an empty data dir ----
for n in $(seq 1 15); do
    cli --bootstrap-controller "127.0.0.1:$P1" topics create "snap$n" \
        --partitions 1 --replication-factor 1 >/dev/null ||
        fail "create snap$n"
done
wait_until 10 leader_seen_by "$P1" || fail "no leader for the snapshot test"
LEADER=$(leader_seen_by "$P1")
F=1
[ "$LEADER" -eq 1 ] && F=2
ls "$TMP/v$LEADER/raft/"snapshot-*.snap >/dev/null 2>&1 ||
    fail "leader $LEADER took no snapshot"
kill9 "v$F"
rm -rf "$TMP/v$F"
format "v$F" || fail "re-format v$F"
start "v$F"
wait_until 20 has_topics "${PORT[$F]}" alpha delta snap1 snap15 ||
    fail "re-formatted voter $F did not catch up"
grep -q "installed snapshot" "$TMP/v$F.log" ||
    fail "voter $F caught up without a snapshot"
log "ok: snapshots taken; voter $F from an empty dir caught up by snapshot"
for i in 1 2 3; do kill9 "v$i"; done

# ---- 8. bad input refuses to start, naming the problem ----
# refuses NAME PATTERN: starting NAME exits 2 with PATTERN on stderr.
refuses() {
    local out rc
    out=$(timeout 10 "$BIN" --config "$TMP/$1.properties" 2>&1)
    rc=$?
    [ $rc -eq 2 ] || fail "$1: exit $rc, expected 2 ($out)"
    echo "$out" | grep -q -- "$2" || fail "$1: message '$out' lacks '$2'"
    log "ok: $1 refused: $out"
}
read -r PB <<<"$(free_ports 1)"
conf bad_key 1 "1@127.0.0.1:$PB" "$PB" "log.flush.polcy=1"
format bad_key 2>/dev/null
refuses bad_key "unknown key 'log.flush.polcy'"
conf bad_value 1 "1@127.0.0.1:$PB" "$PB" "controller.election.timeout.ms=soon"
format bad_value 2>/dev/null
refuses bad_value "controller.election.timeout.ms"
conf other_cluster 1 "1@127.0.0.1:$PB" "$PB"
"$BIN" format --config "$TMP/other_cluster.properties" --cluster-id elsewhere \
    >/dev/null || fail "format other_cluster"
refuses other_cluster "belongs to cluster 'elsewhere'"
conf not_voter 4 "1@127.0.0.1:$P1,2@127.0.0.1:$P2" "$PB"
refuses not_voter "node.id 4 is not in controller.quorum.voters"
out=$("$BIN" format --config "$TMP/other_cluster.properties" \
    --cluster-id testcluster 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q "belongs to cluster 'elsewhere'" ||
    fail "format over another cluster's dir: $out"
log "ok: format refuses another cluster's data dir"
# A voter alone (its only peer never starts) has no leader: /health 503.
read -r PL PX AL <<<"$(free_ports 3)"
conf lonely 1 "1@127.0.0.1:$PL,2@127.0.0.1:$PX" "$PL" \
    "admin.listener=127.0.0.1:$AL"
format lonely || fail "format lonely"
start lonely
lonely_up() { http "$AL" /health | grep -q "^503"; }
wait_until 5 lonely_up || fail "lonely /health: $(http "$AL" /health)"
kill9 lonely
log "ok: /health is 503 without a quorum leader"

# ---- 9. five voters survive two kills ----
read -r Q1 Q2 Q3 Q4 Q5 <<<"$(free_ports 5)"
QP=([1]=$Q1 [2]=$Q2 [3]=$Q3 [4]=$Q4 [5]=$Q5)
VOTERS5="1@127.0.0.1:$Q1,2@127.0.0.1:$Q2,3@127.0.0.1:$Q3,4@127.0.0.1:$Q4,5@127.0.0.1:$Q5"
for i in 1 2 3 4 5; do
    conf "w$i" $i "$VOTERS5" "${QP[$i]}"
    format "w$i" || fail "format w$i"
    start "w$i"
done
wait_until 15 leader_seen_by "$Q1" || fail "5 voters: no leader"
L5=$(leader_seen_by "$Q1")
cli --bootstrap-controller "127.0.0.1:$Q1" brokers register --id 1 \
    >/dev/null || fail "5 voters: register"
cli --bootstrap-controller "127.0.0.1:$Q1" topics create five \
    --partitions 2 --replication-factor 1 >/dev/null || fail "5 voters: create"
OTHER=1
[ "$L5" -eq 1 ] && OTHER=2
kill9 "w$L5"
kill9 "w$OTHER"
LIVE=()
for i in 1 2 3 4 5; do
    [ $i -ne "$L5" ] && [ $i -ne $OTHER ] && LIVE+=($i)
done
cli --bootstrap-controller "127.0.0.1:${QP[${LIVE[0]}]}" --timeout-ms 20000 \
    topics create after-two-kills --partitions 1 --replication-factor 1 \
    >/dev/null || fail "5 voters: create with 2 killed"
for i in "${LIVE[@]}"; do
    wait_until 10 has_topics "${QP[$i]}" five after-two-kills ||
        fail "5 voters: voter $i lacks topics"
done
log "ok: 5 voters kept working with voters $L5 and $OTHER killed"

STATUS=0
log "PASS: controller quorum cluster test"
