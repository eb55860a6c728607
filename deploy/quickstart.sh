#!/usr/bin/env bash
# Build strata and run a local 3-controller, 3-broker cluster on 127.0.0.1.
#
#   deploy/quickstart.sh [up]   install what is missing, build, make
#                               certificates, format and start the cluster
#                               (only what is not running), wait until it is
#                               healthy, create a topic, produce and consume
#                               a few records, print what to try next
#   deploy/quickstart.sh status the processes and `strata cluster health`
#   deploy/quickstart.sh down   stop exactly the processes it started
#                               (SIGTERM, up to 10 s, then SIGKILL)
#
# Everything lives under run/ (or $STRATA_RUN_DIR): run/bin (links to the
# built binaries), run/certs, run/<name>.properties, run/<name>/ (data),
# run/<name>.log, run/<name>.pid for controller-1..3 and broker-1..3, and
# run/client.properties for the CLI (export STRATA_CONFIG=...).
# Running `up` again leaves one healthy cluster: what runs is kept, what
# died is started again on its data.
#
# Ports (127.0.0.1, fixed so printed commands stay valid; all shifted by
# $STRATA_PORT_OFFSET, default 0):
#   controllers 19091-19093, brokers 19191-19193,
#   controller HTTP /health and /metrics 19281-19283.
# Environment: STRATA_BUILD_DIR (default build/), STRATA_SKIP_BUILD=1 (use
# the binaries already in STRATA_BUILD_DIR), STRATA_RUN_DIR, STRATA_PORT_OFFSET.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN=${STRATA_RUN_DIR:-$ROOT/run}
BUILD=${STRATA_BUILD_DIR:-$ROOT/build}
OFF=${STRATA_PORT_OFFSET:-0}
CMD=${1:-up}
NAMES=(controller-1 controller-2 controller-3 broker-1 broker-2 broker-3)
TOPIC=quickstart
WAIT_S=60

say() { echo "quickstart: $*"; }
die() { echo "quickstart: error: $*" >&2; exit 1; }

port_of() { # NAME -> client/peer port
    case $1 in
    controller-*) echo $((19090 + ${1#controller-} + OFF)) ;;
    broker-*) echo $((19190 + ${1#broker-} + OFF)) ;;
    esac
}
http_of() { echo $((19280 + ${1#controller-} + OFF)); }

# The PID in run/NAME.pid when that process is alive and is ours (its
# command line names our config file: a reused PID is not mistaken).
pid_of() {
    local f="$RUN/$1.pid" pid
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
        grep -qF -- "$RUN/$1.properties" || return 1
    echo "$pid"
}

port_free() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
# Like the daemons: TIME_WAIT leftovers of a stopped cluster do not count.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

voters() {
    echo "1@127.0.0.1:$(port_of controller-1),2@127.0.0.1:$(port_of controller-2),3@127.0.0.1:$(port_of controller-3)"
}

build() {
    if [ "${STRATA_SKIP_BUILD:-0}" = 1 ]; then
        return
    fi
    "$ROOT/deploy/install-deps.sh" build
    if [ ! -f "$BUILD/build.ninja" ]; then
        say "configuring $BUILD (release)"
        meson setup "$BUILD" -Dbuildtype=release -Dtests=false >/dev/null
    fi
    say "building in $BUILD"
    ninja -C "$BUILD" controller/strata-controller broker/strata-broker \
        client/cli/strata >/dev/null || die "build failed: ninja -C $BUILD"
}

link_bins() {
    mkdir -p "$RUN/bin"
    local b
    for b in controller/strata-controller broker/strata-broker \
        client/cli/strata; do
        [ -x "$BUILD/$b" ] || die "$BUILD/$b is missing (build first)"
        ln -sfn "$BUILD/$b" "$RUN/bin/$(basename "$b")"
    done
}

write_configs() {
    local i n
    for i in 1 2 3; do
        n=controller-$i
        cat >"$RUN/$n.properties" <<EOF
# Written by deploy/quickstart.sh.
node.id=$i
controller.quorum.voters=$(voters)
listeners=127.0.0.1:$(port_of "$n")
cluster.id=$CLUSTER_ID
data.dir=$RUN/$n
tls.ca.file=$RUN/certs/ca.pem
tls.cert.file=$RUN/certs/$n.pem
tls.key.file=$RUN/certs/$n.key
admin.listener=127.0.0.1:$(http_of "$n")
EOF
        n=broker-$i
        cat >"$RUN/$n.properties" <<EOF
# Written by deploy/quickstart.sh.
node.id=$i
listeners=127.0.0.1:$(port_of "$n")
controller.quorum.voters=$(voters)
cluster.id=$CLUSTER_ID
log.dirs=$RUN/$n
tls.ca.file=$RUN/certs/ca.pem
tls.cert.file=$RUN/certs/$n.pem
tls.key.file=$RUN/certs/$n.key
EOF
    done
    cat >"$RUN/client.properties" <<EOF
# Client keys for the strata CLI and libstrata (export STRATA_CONFIG=$RUN/client.properties).
bootstrap.servers=127.0.0.1:$(port_of broker-1),127.0.0.1:$(port_of broker-2),127.0.0.1:$(port_of broker-3)
ssl.ca.location=$RUN/certs/ca.pem
ssl.certificate.location=$RUN/certs/client.pem
ssl.key.location=$RUN/certs/client.key
# The CLI's own key: controller voters, for the controller-facing commands
# (topics, configs, perf metadata). cluster status works without it.
bootstrap.controllers=127.0.0.1:$(port_of controller-1),127.0.0.1:$(port_of controller-2),127.0.0.1:$(port_of controller-3)
EOF
}

start_node() { # NAME BINARY
    local n=$1 bin=$2
    if [ ! -d "$RUN/$n" ]; then
        "$bin" format --config "$RUN/$n.properties" \
            --cluster-id "$CLUSTER_ID" >>"$RUN/$n.log" 2>&1 ||
            die "format $n failed (see $RUN/$n.log)"
    fi
    # setsid: the node outlives this script and ignores its terminal's ^C.
    setsid "$bin" --config "$RUN/$n.properties" >>"$RUN/$n.log" 2>&1 \
        </dev/null &
    echo $! >"$RUN/$n.pid"
}

cli() { "$RUN/bin/strata" --config "$RUN/client.properties" "$@"; }

up() {
    build
    mkdir -p "$RUN"
    link_bins
    local n missing=()
    for n in "${NAMES[@]}"; do
        pid_of "$n" >/dev/null || missing+=("$n")
    done
    for n in "${missing[@]}"; do
        local p=$(port_of "$n")
        port_free "$p" || die "port $p for $n is in use by another process (set STRATA_PORT_OFFSET to move every port)"
        if [[ $n == controller-* ]]; then
            p=$(http_of "$n")
            port_free "$p" || die "port $p for $n's HTTP endpoint is in use (set STRATA_PORT_OFFSET)"
        fi
    done
    bash "$ROOT/deploy/gen-certs.sh" "$RUN/certs" "${NAMES[@]}" >/dev/null ||
        die "gen-certs failed"
    [ -f "$RUN/cluster.id" ] || echo "quickstart-$(date +%s)-$RANDOM" >"$RUN/cluster.id"
    CLUSTER_ID=$(cat "$RUN/cluster.id")
    write_configs
    if [ ${#missing[@]} -eq 0 ]; then
        say "all 6 processes already running under $RUN"
    fi
    for n in "${missing[@]}"; do
        case $n in
        controller-*) start_node "$n" "$RUN/bin/strata-controller" ;;
        broker-*) start_node "$n" "$RUN/bin/strata-broker" ;;
        esac
        say "started $n (pid $(cat "$RUN/$n.pid"), port $(port_of "$n"), log $RUN/$n.log)"
    done
    say "waiting (up to ${WAIT_S}s) until the cluster is healthy"
    # Under-replicated is a warning here: followers of a restarted broker
    # catch up after it serves, and the demo below needs only leaders.
    if ! cli cluster health --exit-when-healthy --max-wait-ms $((WAIT_S * 1000)) \
        --allow-under-replicated --timeout-ms 3000 >"$RUN/health.out" 2>&1; then
        cat "$RUN/health.out" >&2
        for n in "${NAMES[@]}"; do
            pid_of "$n" >/dev/null || echo "quickstart: $n is not running; last lines of $RUN/$n.log:" >&2
            pid_of "$n" >/dev/null || tail -n 5 "$RUN/$n.log" >&2
        done
        die "cluster not healthy after ${WAIT_S}s (./deploy/quickstart.sh status; down)"
    fi
    sed 's/^/quickstart: /' "$RUN/health.out"
    if ! cli topic describe "$TOPIC" >/dev/null 2>&1; then
        cli topic create "$TOPIC" -p 3 -r 3 | sed 's/^/quickstart: /' ||
            die "could not create topic $TOPIC"
    fi
    local stamp
    stamp=$(date +%H:%M:%S)
    local out
    out=$(printf 'user-1:hello from the quickstart at %s\nuser-2:second record\nuser-1:third record\n' "$stamp" |
        cli produce "$TOPIC" --key-separator : 2>&1) ||
        die "produce to $TOPIC failed: $out"
    say "$out"
    out=$(cli consume "$TOPIC" --from-beginning -e --idle-ms 5000 \
        -f '  partition %p offset %o  %k: %v\n') ||
        die "consume from $TOPIC failed"
    say "the last records of $TOPIC:"
    echo "$out" | tail -n 3
    cat <<EOF

strata is running: 3 controllers, 3 brokers on 127.0.0.1 (data, logs, pids in $RUN).
Try next:

  export PATH="$RUN/bin:\$PATH" STRATA_CONFIG="$RUN/client.properties"
  strata cluster status
  strata topic create orders -p 6 -r 3
  strata topic describe orders
  printf 'k1:v1\nk2:v2\n' | strata produce orders --key-separator :
  strata consume orders --from-beginning -n 2 -f '%p/%o %k=%v\n'
  strata perf produce --topic orders --records 100000 --record-size 100
  strata perf consume --topic orders --records 100000
  strata --json topic describe orders

  ./deploy/quickstart.sh status     ./deploy/quickstart.sh down
EOF
}

status() {
    local n pid up=0
    for n in "${NAMES[@]}"; do
        if pid=$(pid_of "$n"); then
            printf '%-13s running  pid %-8s port %s\n' "$n" "$pid" "$(port_of "$n")"
            up=$((up + 1))
        else
            printf '%-13s stopped\n' "$n"
        fi
    done
    [ "$up" -gt 0 ] || { say "nothing running under $RUN"; return 1; }
    cli cluster health --timeout-ms 3000
}

# stop_group NAME...: SIGTERM each running one, wait up to 10 s, then
# SIGKILL what is left. Only PIDs from run/NAME.pid that are still ours.
STOPPED=0
stop_group() {
    local n pid pids=() names=()
    for n in "$@"; do
        if pid=$(pid_of "$n"); then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$n")
        fi
    done
    local i end=$((SECONDS + 10))
    for i in "${!pids[@]}"; do
        while kill -0 "${pids[$i]}" 2>/dev/null && [ $SECONDS -lt $end ]; do
            sleep 0.1
        done
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            say "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for 10s: SIGKILL"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
        say "stopped ${names[$i]} (pid ${pids[$i]})"
        STOPPED=$((STOPPED + 1))
    done
}

down() {
    # Brokers first: their controlled shutdown needs a live controller.
    stop_group broker-1 broker-2 broker-3
    stop_group controller-1 controller-2 controller-3
    local n
    for n in "${NAMES[@]}"; do
        rm -f "$RUN/$n.pid"
    done
    [ "$STOPPED" -gt 0 ] || say "nothing was running under $RUN"
    say "data kept in $RUN (rm -rf $RUN for a fresh cluster)"
}

case $CMD in
up) up ;;
down) down ;;
status) status ;;
*) echo "usage: $0 [up|status|down]" >&2; exit 2 ;;
esac
