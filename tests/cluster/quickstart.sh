#!/usr/bin/env bash
# deploy/quickstart.sh up / up again / status / down on a temporary run
# directory with the binaries of this build, on ports shifted away from
# the defaults (so a user's quickstart cluster is not disturbed). Checks
# that `up` twice leaves one cluster (the same PIDs), that the printed
# commands work, and that `down` leaves no process behind.
#
#   quickstart.sh SOURCE_ROOT BUILD_DIR
set -u
ROOT=$1
BUILD=$2
TMP=$(mktemp -d /tmp/strata-quickstart-test.XXXXXX)
export STRATA_RUN_DIR=$TMP/run STRATA_BUILD_DIR=$BUILD STRATA_SKIP_BUILD=1
STATUS=1
QS=$ROOT/deploy/quickstart.sh
NAMES="controller-1 controller-2 controller-3 broker-1 broker-2 broker-3"

log() { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] $*"; }
fail() {
    log "FAIL: $*"
    exit 1
}

# Any process whose command line names our run directory.
ours() { pgrep -f -- "$STRATA_RUN_DIR/" || true; }

cleanup() {
    "$QS" down >/dev/null 2>&1
    local left
    left=$(ours)
    if [ -n "$left" ]; then
        echo "left running after down: $left"
        for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
        STATUS=1
    fi
    if grep -l "Sanitizer\|runtime error:" "$STRATA_RUN_DIR"/*.log 2>/dev/null; then
        echo "sanitizer reports in the logs above"
        STATUS=1
    fi
    if [ "$STATUS" -ne 0 ]; then
        for f in "$STRATA_RUN_DIR"/*.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last 20 lines)"
            tail -n 20 "$f"
        done
        echo "test files kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$STATUS"
}
trap cleanup EXIT

# A port offset whose 9 ports are free (the quickstart checks again).
pick_offset() {
    python3 - <<'PY'
import random, socket
for _ in range(50):
    off = random.randrange(100, 4000, 10)
    ports = [b + i + off for b in (19090, 19190, 19280) for i in (1, 2, 3)]
    ok = True
    for p in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        s.close()
    if ok:
        print(off)
        break
PY
}
STRATA_PORT_OFFSET=$(pick_offset)
[ -n "$STRATA_PORT_OFFSET" ] || fail "no free port range"
export STRATA_PORT_OFFSET

pids() {
    local n
    for n in $NAMES; do cat "$STRATA_RUN_DIR/$n.pid" 2>/dev/null; done |
        tr '\n' ' '
}

"$QS" up >"$TMP/up1.out" 2>&1 || { cat "$TMP/up1.out"; fail "quickstart up"; }
grep -q "strata is running" "$TMP/up1.out" || fail "no 'try next' text"
grep -q "hello from the quickstart" "$TMP/up1.out" ||
    fail "records did not round-trip: $(cat "$TMP/up1.out")"
first=$(pids)
[ "$(echo "$first" | wc -w)" -eq 6 ] || fail "pid files: $first"
log "ok: up started 6 processes ($first) and round-tripped records"

"$QS" up >"$TMP/up2.out" 2>&1 || { cat "$TMP/up2.out"; fail "second up"; }
grep -q "already running" "$TMP/up2.out" || fail "second up restarted nodes"
[ "$(pids)" = "$first" ] || fail "second up changed pids: $(pids)"
[ "$(ours | wc -l)" -eq 6 ] || fail "not 6 processes: $(ours | tr '\n' ' ')"
log "ok: up again leaves the same 6 processes"

# A process that died is started again by up.
kill -KILL "$(cat "$STRATA_RUN_DIR/broker-2.pid")"
"$QS" up >"$TMP/up3.out" 2>&1 || { cat "$TMP/up3.out"; fail "up after kill"; }
grep -q "started broker-2" "$TMP/up3.out" || fail "broker-2 not restarted"
[ "$(ours | wc -l)" -eq 6 ] || fail "not 6 processes after restart"
log "ok: up restarts a killed broker only"

"$QS" status >"$TMP/status.out" 2>&1
[ "$(grep -c ' running ' "$TMP/status.out")" -eq 6 ] ||
    fail "status: $(cat "$TMP/status.out")"
grep -q "healthy" "$TMP/status.out" || fail "status has no verdict"
log "ok: status lists 6 running processes and a verdict"

# The printed commands work: PATH and STRATA_CONFIG as the text says.
(
    export PATH="$STRATA_RUN_DIR/bin:$PATH"
    export STRATA_CONFIG="$STRATA_RUN_DIR/client.properties"
    strata topic describe quickstart >/dev/null &&
        strata --json cluster status >/dev/null
) || fail "printed commands do not work"
log "ok: the printed commands work"

"$QS" down >"$TMP/down.out" 2>&1 || fail "down"
[ "$(grep -c '^quickstart: stopped' "$TMP/down.out")" -eq 6 ] ||
    fail "down: $(cat "$TMP/down.out")"
[ -z "$(ours)" ] || fail "processes left after down: $(ours | tr '\n' ' ')"
"$QS" status >/dev/null 2>&1 && fail "status after down says running"
log "ok: down stopped every process it started"
STATUS=0
log "PASS: quickstart"
