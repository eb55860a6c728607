# Shared by the broker cluster tests (sourced): a 3-controller, 3-broker
# cluster on 127.0.0.1 over mutual TLS, every PID recorded and stopped
# (SIGCONT, SIGTERM, then SIGKILL) on exit, also on failure; logs are
# printed on failure. Waits are bounded polls.
#
#   source broker_lib.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS
#   cluster_start [broker key=value...]   start c1..c3 and b1..b3
#   tcli ARGS...        broker_testcli against broker 1 (BOOT overrides)
set -u
CTL_BIN=$1
BRK_BIN=$2
TCLI_BIN=$3
GEN=$4
TMP=$(mktemp -d /tmp/strata-broker-test.XXXXXX)
declare -A PIDS=()
STATUS=1
SESSION_MS=${SESSION_MS:-3000}

log() { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] $*"; }

cleanup() {
    for k in "${!PIDS[@]}"; do
        kill -CONT "${PIDS[$k]}" 2>/dev/null
        kill -TERM "${PIDS[$k]}" 2>/dev/null
    done
    for k in "${!PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "${PIDS[$k]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${PIDS[$k]}" 2>/dev/null
        wait "${PIDS[$k]}" 2>/dev/null
    done
    if grep -l "Sanitizer\|runtime error:" "$TMP"/*.log 2>/dev/null; then
        echo "sanitizer reports in the logs above"
        STATUS=1
    fi
    if [ "$STATUS" -ne 0 ]; then
        for f in "$TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last 40 lines)"
            tail -n 40 "$f"
        done
        echo "test files kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$STATUS"
}
trap cleanup EXIT

fail() {
    log "FAIL: $*"
    exit 1
}

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

bash "$GEN" "$TMP/certs" c1 c2 c3 b1 b2 b3 >/dev/null || fail "gen-certs"
read -r CP1 CP2 CP3 BP1 BP2 BP3 <<<"$(free_ports 6)"
CPORT=([1]=$CP1 [2]=$CP2 [3]=$CP3)
BPORT=([1]=$BP1 [2]=$BP2 [3]=$BP3)
VOTERS="1@127.0.0.1:$CP1,2@127.0.0.1:$CP2,3@127.0.0.1:$CP3"
BOOT=$BP1

ctl_conf() {
    local i=$1
    {
        echo "node.id=$i"
        echo "controller.quorum.voters=$VOTERS"
        echo "listeners=127.0.0.1:${CPORT[$i]}"
        echo "data.dir=$TMP/c$i"
        echo "tls.ca.file=$TMP/certs/ca.pem"
        echo "tls.cert.file=$TMP/certs/c$i.pem"
        echo "tls.key.file=$TMP/certs/c$i.key"
        echo "broker.session.timeout.ms=$SESSION_MS"
    } >"$TMP/c$i.properties"
}

brk_conf() {
    local i=$1
    shift
    {
        echo "node.id=$i"
        echo "controller.quorum.voters=$VOTERS"
        echo "listeners=127.0.0.1:${BPORT[$i]}"
        echo "log.dirs=$TMP/b$i"
        echo "tls.ca.file=$TMP/certs/ca.pem"
        echo "tls.cert.file=$TMP/certs/b$i.pem"
        echo "tls.key.file=$TMP/certs/b$i.key"
        echo "broker.heartbeat.interval.ms=300ms"
        echo "broker.session.timeout.ms=$SESSION_MS"
        for kv in "$@"; do echo "$kv"; done
    } >"$TMP/b$i.properties"
}

start_ctl() {
    "$CTL_BIN" --config "$TMP/c$1.properties" >>"$TMP/c$1.log" 2>&1 &
    PIDS[c$1]=$!
}

start_brk() {
    "$BRK_BIN" --config "$TMP/b$1.properties" >>"$TMP/b$1.log" 2>&1 &
    PIDS[b$1]=$!
}

kill9() {
    kill -KILL "${PIDS[$1]}" 2>/dev/null
    wait "${PIDS[$1]}" 2>/dev/null
    unset "PIDS[$1]"
}

# Stop with SIGTERM and return its exit code.
term() {
    local pid=${PIDS[$1]}
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    unset "PIDS[$1]"
    return $rc
}

tcli() {
    "$TCLI_BIN" --bootstrap "127.0.0.1:$BOOT" --certs "$TMP/certs" "$@"
}

unfenced_brokers() {
    [ "$(tcli metadata 2>/dev/null | grep -c 'fenced=0')" -eq 3 ]
}

cluster_start() {
    for i in 1 2 3; do
        ctl_conf $i
        "$CTL_BIN" format --config "$TMP/c$i.properties" \
            --cluster-id brokertest >/dev/null || fail "format c$i"
        start_ctl $i
    done
    for i in 1 2 3; do
        brk_conf $i "$@"
        "$BRK_BIN" format --config "$TMP/b$i.properties" \
            --cluster-id brokertest >/dev/null || fail "format b$i"
        start_brk $i
    done
    wait_until 30 unfenced_brokers || fail "3 brokers not registered"
    log "ok: 3 controllers and 3 brokers up, brokers registered, unfenced"
}

# leader_of TOPIC PARTITION: the broker id leading it.
leader_of() {
    tcli metadata | awk -v p="partition $1-$2" \
        '$0 ~ "^"p" " {print $4}'
}

# How many times broker I was unfenced (its log says so once per
# registration that completed).
unfenced_count() {
    grep -c "unfenced by the controller" "$TMP/b$1.log" 2>/dev/null
}

unfenced_more() {
    [ "$(unfenced_count "$1")" -gt "$2" ]
}

# restart_brk I: start broker I again and wait (bounded) until its new
# incarnation is registered and unfenced (the old one must expire first).
restart_brk() {
    local i=$1 n
    n=$(unfenced_count "$i")
    start_brk "$i"
    wait_until $((SESSION_MS / 1000 + 30)) unfenced_more "$i" "$n" ||
        fail "broker $i not registered and unfenced after restart"
}
