#!/usr/bin/env bash
# Figures for the broker (not a test): produce and fetch throughput and
# produce latency over mTLS with replication factor 1, on a 3-controller,
# 3-broker cluster on 127.0.0.1. Use a release build without sanitizers:
#
#   meson setup build-rel -Dbuildtype=release && ninja -C build-rel
#   tests/cluster/broker_perf.sh build-rel/controller/strata-controller \
#       build-rel/broker/strata-broker \
#       build-rel/tests/cluster/broker_testcli deploy/gen-certs.sh
#
# Throughput: one client thread, batches of 100 records, 16 requests in
# flight per connection, to a 1-partition topic (one broker) and to a
# 12-partition topic (leaders on all three brokers, all on this machine).
# Latency: acks=1 and acks=all, 100 B records, 10 records per batch, 200
# batches/s (2,000 records/s), one batch per request.
# RECORDS (default 1,000,000 of 100 B; 200,000 of 1 KiB), INFLIGHT (16)
# and FLUSH (log.flush.policy, batch) can be set.
source "$(dirname "$0")/broker_lib.sh"
N100=${RECORDS:-1000000}
N1K=$((N100 / 5))
cluster_start "log.flush.policy=${FLUSH:-batch}"
for parts in 1 12; do
    for size in 100 1024; do
        n=$N100
        [ "$size" -eq 1024 ] && n=$N1K
        for acks in 1 -1; do
            t="perf-$parts-$size-$acks"
            tcli create-topic "$t" "$parts" >/dev/null || fail "create $t"
            echo "== $parts partition(s), $size B records, acks=$acks"
            tcli perf-produce "$t" --count "$n" --size "$size" \
                --acks "$acks" --batch 100 --inflight "${INFLIGHT:-16}" | head -1 ||
                fail "produce $t"
            tcli perf-consume "$t" --count "$n" --size "$size" \
                --batch 100 || fail "consume $t"
        done
    done
done
for acks in 1 -1; do
    tcli create-topic "perf-lat$acks" 1 >/dev/null || fail "create perf-lat"
    tcli latency "perf-lat$acks" --rate 200 --seconds 10 --acks "$acks" \
        --size 100 --batch 10 || fail "latency"
done
STATUS=0
