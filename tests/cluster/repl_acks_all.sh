#!/bin/bash
# Replication: 3 controllers + 3 brokers over mTLS, a 6-partition RF=3
# topic, 100,000 records produced with acks=all (idempotent, retried on
# leader moves) while the leader of partition 0 is kill -9'd mid-way.
# Then: every acknowledged record is read exactly once per partition and
# in order; the killed broker returns and the ISR heals to 3 everywhere;
# the three replicas of every partition hold the same bytes.
# STRATA_LONG=1: 3 rounds, 300,000 records.
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/repl_lib.sh"
COUNT=100000
ROUNDS=1
if [ "${STRATA_LONG:-0}" = 1 ]; then COUNT=300000; ROUNDS=3; fi

cluster_start

for round in $(seq 1 $ROUNDS); do
    T=r$round
    rcli create-topic $T 6 3 min.insync.replicas=2 >/dev/null || fail "create"
    wait_isr $T 6 3
    log "ok: topic $T 6 partitions RF=3, ISR full"
    H=$TMP/history.$round
    rcli produce $T --count $COUNT --batch 100 --size 100 --acks -1 \
        --idempotent --history "$H" --seconds 150 >"$TMP/produce.$round" 2>&1 &
    PROD=$!
    wait_until 60 acked_over "$H" 20000 ||
        fail "producer made no progress"
    L=$(leader_id $T 0)
    log "round $round: kill -9 broker $L (leader of $T-0) mid-way"
    kill9 "b$L"
    wait $PROD || { cat "$TMP/produce.$round"; fail "producer failed"; }
    cat "$TMP/produce.$round"
    restart_brk "$L"
    wait_isr $T 6 3 90
    log "ok: broker $L back, ISR healed to 3 on every partition"
    rcli read $T --out "$TMP/reads.$round" >/dev/null || fail "read"
    python3 "$CHECK" "$H" "$TMP/reads.$round" || fail "history check"
    for p in 0 1 2 3 4 5; do
        wait_until 30 digests_equal $T $p || fail "replicas of $T-$p differ"
    done
    log "ok: round $round: acknowledged records read once, in order; replicas identical"
done
STATUS=0
