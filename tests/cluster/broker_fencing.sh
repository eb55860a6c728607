#!/usr/bin/env bash
# Cluster test of broker fencing and incarnations (3 controllers + 3
# brokers, mTLS, broker.session.timeout.ms=3s).
#
#   broker_fencing.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS
#
#  1. a broker stopped with SIGSTOP is fenced by the controller (the other
#     brokers' metadata shows it); a produce sent while it is stopped is
#     answered BROKER_FENCED when it resumes (its own lease expired); it is
#     then unfenced, leads again and accepts produce.
#  2. after a broker restarts with a new incarnation, a registration with
#     its previous incarnation is refused STALE_BROKER_EPOCH by the active
#     controller.
#  3. a topic deleted through a broker disappears from the metadata and
#     its partition directories are removed.
source "$(dirname "$0")/broker_lib.sh"

cluster_start
tcli create-topic fx 3 >/dev/null || fail "create fx"
V=$(leader_of fx 0)
[ "$V" -eq 1 ] && BOOT=$BP2
tcli fenced-check fx "${PIDS[b$V]}" 1 || fail "fencing of broker $V"
log "ok: SIGSTOP'd broker $V fenced, refused produce, then recovered"

W=3
[ "$BOOT" = "$BP3" ] && W=1
OLD=$(grep -o 'incarnation=[0-9a-f]*' "$TMP/b$W.log" | tail -1 | cut -d= -f2)
[ ${#OLD} -eq 32 ] || fail "no incarnation in b$W.log"
kill9 "b$W"
restart_brk "$W"
NEW=$(grep -o 'incarnation=[0-9a-f]*' "$TMP/b$W.log" | tail -1 | cut -d= -f2)
[ "$NEW" != "$OLD" ] || fail "the restarted broker kept its incarnation"
: >"$TMP/register.out"
for i in 1 2 3; do
    "$TCLI_BIN" --certs "$TMP/certs" register --controller \
        "127.0.0.1:${CPORT[$i]}" --node-id "$W" --incarnation "$OLD" \
        >>"$TMP/register.out" 2>&1
done
grep -q "error=24" "$TMP/register.out" ||
    { cat "$TMP/register.out"; fail "stale incarnation not refused"; }
grep -q "error=0 " "$TMP/register.out" &&
    fail "a stale incarnation was accepted"
log "ok: registration with broker $W's previous incarnation refused"

# A zombie: broker W paused while a new process takes its node id; when
# the old one resumes, its heartbeats are stale and its re-registration is
# refused as a retired incarnation, so it stops with exit 3.
read -r ZPORT <<<"$(free_ports 1)"
sed -e "s#^listeners=.*#listeners=127.0.0.1:$ZPORT#" \
    -e "s#^log.dirs=.*#log.dirs=$TMP/b${W}z#" \
    "$TMP/b$W.properties" >"$TMP/z.properties"
"$BRK_BIN" format --config "$TMP/z.properties" --cluster-id brokertest \
    >/dev/null || fail "format z"
kill -STOP "${PIDS[b$W]}"
"$BRK_BIN" --config "$TMP/z.properties" >>"$TMP/z.log" 2>&1 &
PIDS[z]=$!
zreg() { grep -q "unfenced by the controller" "$TMP/z.log"; }
wait_until $((SESSION_MS / 1000 + 30)) zreg ||
    fail "the new process for node $W never registered"
ZOMBIE=${PIDS[b$W]}
kill -CONT "$ZOMBIE"
RC=0
for _ in $(seq 1 300); do
    kill -0 "$ZOMBIE" 2>/dev/null || break
    sleep 0.1
done
wait "$ZOMBIE" || RC=$?
unset "PIDS[b$W]"
[ "$RC" -eq 3 ] || fail "the stale broker process exited $RC, want 3"
grep -q "registration refused as stale" "$TMP/b$W.log" ||
    fail "no stale-registration line in b$W.log"
log "ok: a resumed broker whose incarnation was replaced stops (exit 3)"

tcli delete-topic fx >/dev/null || fail "delete fx"
# The live brokers' dirs (b$W belongs to the process that stopped).
LIVE=("$TMP/b${W}z")
for i in 1 2 3; do [ "$i" -ne "$W" ] && LIVE+=("$TMP/b$i"); done
gone() {
    for d in "${LIVE[@]}"; do
        ls -d "$d"/fx-* >/dev/null 2>&1 && return 1
    done
    return 0
}
wait_until 20 gone || fail "fx partition dirs still there"
tcli metadata | grep -q "partition fx-" && fail "fx still in metadata"
log "ok: deleted topic's partitions removed from every broker"
tcli create-topic fx 2 >/dev/null || fail "create fx again"
tcli produce fx --count 1000 --acks -1 --batch 10 >/dev/null ||
    fail "produce to the new fx"
tcli consume fx --count 1000 --batch 10 >/dev/null ||
    fail "the new fx does not start empty at offset 0"
log "ok: a topic re-created under the old name starts empty"
STATUS=0
log "PASS"
