#!/bin/bash
# Power loss: every broker runs with test.vfs=crashable and
# log.flush.policy=batch; while acks=all records flow, all three get
# SIGUSR1 at once (each drops what it had not fsynced and exits). After a
# restart every acknowledged record is there (history check).
# STRATA_LONG=1: 3 rounds.
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
ROUNDS=1
[ "${STRATA_LONG:-0}" = 1 ] && ROUNDS=3
# A slow disk (each fsync 30 ms later) so the crash finds unsynced bytes.
export STRATA_CRASH_FSYNC_DELAY_MS=30
cluster_start test.vfs=crashable log.flush.policy=batch
for round in $(seq 1 $ROUNDS); do
    T=w$round
    rcli create-topic $T 3 3 >/dev/null || fail "create"
    wait_isr $T 3 3
    H=$TMP/history.$round
    rcli produce $T --count 1000000 --batch 50 --acks -1 --idempotent \
        --history "$H" --seconds 12 >"$TMP/produce.$round" 2>&1 &
    PROD=$!
    wait_until 60 acked_over "$H" 3000 || fail "no progress"
    for i in 1 2 3; do kill -USR1 "${PIDS[b$i]}"; done
    for i in 1 2 3; do wait "${PIDS[b$i]}" 2>/dev/null; unset "PIDS[b$i]"; done
    log "round $round: power lost on all three brokers after $(grep -c '"type":"ok"' "$H") acks"
    for i in 1 2 3; do start_brk "$i"; done
    wait $PROD
    wait_until 60 unfenced_brokers || fail "brokers not back"
    wait_isr $T 3 3 90
    rcli read $T --out "$TMP/reads.$round" >/dev/null || fail "read"
    python3 "$CHECK" "$H" "$TMP/reads.$round" || fail "acknowledged records lost"
    grep -q "power loss" "$TMP"/b*.log || fail "the crash shim did not run"
    grep -q "power loss: [1-9]" "$TMP"/b*.log ||
        fail "the crash found nothing unsynced to drop"
    log "crash shim: $(grep -h 'power loss' "$TMP"/b*.log | tail -3 | sed 's/.*power loss: //' | tr '\n' ';')"
    log "ok: round $round: every acks=all record survived the power loss"
done
STATUS=0
