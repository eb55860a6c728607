#!/bin/bash
# Fault run: 3 controllers + 3 brokers; a producer writes numbered records
# with acks=all and idempotence to a 3-partition RF=3 topic
# (min.insync.replicas=2) for SECONDS while one random broker at a time is
# kill -9'd and restarted, or SIGSTOPped past the session timeout and
# resumed. Then everything heals, every partition is read from the start,
# and check_history.py reports lost acknowledged writes, an offset holding
# two values, duplicates, order different from offset order, and reads of
# definitely-failed writes.
#   repl_faults.sh CTL BRK TESTCLI GEN RCLI CHECK SECONDS SEED
source "$(dirname "$0")/../cluster/broker_lib.sh" "$1" "$2" "$3" "$4"
source "$(dirname "$0")/../cluster/repl_lib.sh"
SECONDS_RUN=${7:-30}
[ "${STRATA_LONG:-0}" = 1 ] && SECONDS_RUN=$((SECONDS_RUN * 6))
RANDOM=${8:-1}
cluster_start
rcli create-topic f 3 3 min.insync.replicas=2 >/dev/null || fail "create"
wait_isr f 3 3
H=$TMP/history
rcli produce f --count 100000000 --batch 20 --acks -1 --idempotent \
    --history "$H" --seconds "$SECONDS_RUN" >"$TMP/produce" 2>&1 &
PROD=$!
FAULTS=0
END=$((SECONDS + SECONDS_RUN - 4))
while [ $SECONDS -lt $END ]; do
    sleep "0.$((RANDOM % 9 + 1))"
    V=$((RANDOM % 3 + 1))
    if [ $((RANDOM % 2)) = 0 ]; then
        log "fault $FAULTS: kill -9 broker $V, restart"
        echo "{\"type\":\"event\",\"fault\":\"kill\",\"broker\":$V}" >>"$TMP/events"
        kill9 "b$V"
        sleep "1.$((RANDOM % 9))"
        restart_brk "$V"
    else
        log "fault $FAULTS: SIGSTOP broker $V for 4 s"
        echo "{\"type\":\"event\",\"fault\":\"stop\",\"broker\":$V}" >>"$TMP/events"
        kill -STOP "${PIDS[b$V]}"
        sleep 4
        kill -CONT "${PIDS[b$V]}"
    fi
    FAULTS=$((FAULTS + 1))
done
wait $PROD
cat "$TMP/produce"
wait_until 60 unfenced_brokers || fail "brokers not back"
wait_isr f 3 3 90
rcli read f --out "$TMP/reads" >/dev/null || fail "final read"
python3 "$CHECK" "$H" "$TMP/reads" || fail "history check found anomalies"
grep -q '"type":"ok"' "$H" || fail "nothing was acknowledged"
log "ok: $FAULTS faults in ${SECONDS_RUN}s, history consistent"
STATUS=0
