#!/bin/bash
# Replication figures (a tool, not a test): start 3 controllers + 3
# brokers (release binaries recommended) and print
#  - RF=3 acks=all produce throughput, 100 B and 1 KiB records;
#  - acks=all produce latency at a moderate rate (p50/p99);
#  - leader failover time: kill -9 of a partition leader to the first
#    successful acks=all produce on the new leader, TRIALS times (median).
# Usage (from the source root):
#   tests/cluster/repl_figures.sh BUILD [TRIALS]
#   e.g. meson setup build-rel --buildtype=release -Dsanitize=false &&
#        ninja -C build-rel && tests/cluster/repl_figures.sh build-rel 10
# SESSION_MS (default 3000 here; the broker default is 1.5 s) bounds the
# failover time: a kill -9'd leader is noticed when its session expires.
B=${1:?build dir}
TRIALS=${2:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/cluster/broker_lib.sh" "$B/controller/strata-controller" \
    "$B/broker/strata-broker" "$B/tests/cluster/broker_testcli" \
    "$ROOT/deploy/gen-certs.sh"
source "$ROOT/tests/cluster/repl_lib.sh" x x x x "$B/tests/cluster/repl_testcli" x
cluster_start
if [ -z "${SKIP_PERF:-}" ]; then
rcli create-topic perf 6 3 >/dev/null || fail "create"
wait_isr perf 6 3
echo "== RF=3 acks=all, 100 B records (batch 500, 4 in flight per partition)"
rcli produce perf --count 600000 --size 100 --batch 500 --inflight 4 --acks -1
echo "== RF=3 acks=all, 1 KiB records (batch 100, 4 in flight per partition)"
rcli produce perf --count 120000 --size 1024 --batch 100 --inflight 4 --acks -1
echo "== RF=3 acks=all latency at 200 batches/s of 10 x 100 B"
rcli latency perf --rate 200 --seconds 10 --batch 10 --size 100
fi
rcli create-topic fo 1 3 >/dev/null || fail "create fo"
wait_isr fo 1 3
MS=()
for t in $(seq 1 "$TRIALS"); do
    L=$(leader_id fo 0)
    T0=$(date +%s%3N)
    kill9 "b$L"
    rcli produce-until-ok fo 0 --seconds 60 >/dev/null || fail "trial $t"
    T1=$(date +%s%3N)
    MS+=($((T1 - T0)))
    echo "failover trial $t: leader $L killed; first acks=all ok after $((T1 - T0)) ms"
    restart_brk "$L"
    wait_isr fo 1 3 60
done
SORTED=($(printf '%s\n' "${MS[@]}" | sort -n))
echo "== failover median over $TRIALS: ${SORTED[$((TRIALS / 2))]} ms (session timeout ${SESSION_MS} ms)"
STATUS=0
