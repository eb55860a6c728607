#!/usr/bin/env bash
# Cluster test of the broker data path: 3 controllers + 3 brokers (real
# processes, mTLS on 127.0.0.1), replication factor 1.
#
#   broker_data.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS
#
#  1. topics with 1 and 12 partitions, created through a broker (forwarded
#     to the active controller); leaders spread over the brokers.
#  2. 100,000 records with acks=1 and 100,000 with acks=all to each topic;
#     every acknowledgement has contiguous offsets; all are fetched back in
#     order with long polls and their contents checked.
#  3. ListOffsets earliest, latest and by time.
#  4. SIGTERM stops a broker with exit 0 and clean-shutdown markers; it
#     restarts and serves every record again.
source "$(dirname "$0")/broker_lib.sh"

cluster_start
tcli create-topic one 1 >/dev/null || fail "create one"
tcli create-topic twelve 12 >/dev/null || fail "create twelve"
LEADERS=$(tcli metadata | awk '/^partition twelve-/ {print $4}' | sort -u |
    wc -l)
[ "$LEADERS" -eq 3 ] || fail "twelve's leaders on $LEADERS brokers, want 3"
log "ok: topics with 1 and 12 partitions, leaders on 3 brokers"

for t in one twelve; do
    tcli produce $t --count 100000 --acks 1 --batch 100 ||
        fail "produce acks=1 to $t"
    tcli consume $t --count 100000 --batch 100 || fail "consume $t"
done
log "ok: 100,000 records acks=1 to each topic, fetched back in order"

tcli create-topic oneall 1 >/dev/null || fail "create oneall"
tcli create-topic twelveall 12 >/dev/null || fail "create twelveall"
for t in oneall twelveall; do
    tcli produce $t --count 100000 --acks -1 --batch 100 ||
        fail "produce acks=all to $t"
    tcli consume $t --count 100000 --batch 100 || fail "consume $t"
done
log "ok: 100,000 records acks=all to each topic, fetched back in order"

tcli create-topic poll 1 >/dev/null || fail "create poll"
tcli long-poll-check poll || fail "long poll"
log "ok: fetch long polls wait for max_wait_ms and wake on a produce"

tcli create-topic times 1 >/dev/null || fail "create times"
tcli time-check times || fail "list offsets"
log "ok: list offsets earliest, latest and by time"

L=$(leader_of one 0)
term "b$L" || fail "broker $L did not exit 0 on SIGTERM"
ls "$TMP/b$L"/one-0/clean-shutdown >/dev/null ||
    fail "no clean-shutdown marker after SIGTERM"
grep -q "controlled shutdown acknowledged" "$TMP/b$L.log" ||
    fail "SIGTERM did not go through a controlled shutdown"
[ "$L" -eq 1 ] && BOOT=$BP2
restart_brk "$L"
tcli consume one --count 100000 --batch 100 --timeout-ms 60000 ||
    fail "records after a clean restart"
log "ok: SIGTERM: controlled shutdown, exit 0, clean markers; restart serves every record"
STATUS=0
log "PASS"
