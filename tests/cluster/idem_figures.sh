#!/bin/bash
# Idempotent producer figures (a tool, not a test): start 3 controllers +
# 3 brokers and print libstrata's produce throughput to a 3-partition RF=3
# topic with acks=all, idempotence on and off, for each idem_check binary
# given (e.g. one built with -DCL_IDEM_MAX_IN_FLIGHT=1 to compare).
# Usage (from the source root):
#   tests/cluster/idem_figures.sh BUILD [COUNT] [IDEM_CHECK...]
#   e.g. meson setup build-rel --buildtype=release -Dsanitize=false &&
#        ninja -C build-rel && tests/cluster/idem_figures.sh build-rel
B=${1:?build dir}
COUNT=${2:-200000}
shift 2 2>/dev/null || shift $#
CHECKS=("$@")
[ ${#CHECKS[@]} -gt 0 ] || CHECKS=("$B/tests/cluster/idem_check")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/cluster/broker_lib.sh" "$B/controller/strata-controller" \
    "$B/broker/strata-broker" "$B/tests/cluster/broker_testcli" \
    "$ROOT/deploy/gen-certs.sh"
source "$ROOT/tests/cluster/repl_lib.sh" x x x x "$B/tests/cluster/repl_testcli" x
BOOTS="127.0.0.1:$BP1,127.0.0.1:$BP2,127.0.0.1:$BP3"
cluster_start
n=0
for chk in "${CHECKS[@]}"; do
    for idem in true false; do
        n=$((n + 1))
        rcli create-topic f$n 3 3 >/dev/null || fail "create"
        wait_isr f$n 3 3
        echo "== $chk idempotence=$idem"
        "$chk" "$BOOTS" "$TMP/certs" produce f$n 3 "$COUNT" "$TMP/progress" \
            $idem 0 2>"$TMP/idem.$n.log" || fail "produce failed"
    done
done
STATUS=0
