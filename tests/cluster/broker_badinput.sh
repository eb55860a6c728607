#!/usr/bin/env bash
# Cluster test of bad input to brokers (3 controllers + 3 brokers, mTLS).
#
#   broker_badinput.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS
#
#  1. produce with a corrupt batch, a truncated batch, a batch over
#     max.message.bytes, an unknown topic, a partition out of range, a
#     payload range outside the payload, bad acks, a body that is not
#     protobuf; fetch at a negative offset and with wrong leader epochs:
#     each answered with its typed error on the same connection, which
#     keeps working, and the records written before stay intact.
#  2. acks=all is refused NOT_ENOUGH_REPLICAS once the topic's
#     min.insync.replicas (altered through a broker) exceeds the ISR;
#     acks=1 still works.
#  3. bad configurations refuse to start with exit 2 and a line naming
#     the key or directory: unknown key, bad value, unformatted log dir,
#     another cluster's log dir; the running brokers are unaffected.
source "$(dirname "$0")/broker_lib.sh"

cluster_start
tcli create-topic bad 1 >/dev/null || fail "create bad"
tcli bad-input bad || fail "bad input"
log "ok: every bad input got its typed error; connection and data intact"

tcli create-topic isr 1 >/dev/null || fail "create isr"
tcli alter-topic-config isr min.insync.replicas 2 >/dev/null ||
    fail "alter min.insync.replicas"
refused() { tcli expect-produce-error isr 41 --acks -1; }
wait_until 10 refused || fail "acks=all not refused with ISR 1 < 2"
tcli produce isr --count 10 --acks 1 --batch 10 >/dev/null ||
    fail "acks=1 refused"
log "ok: acks=all refused NOT_ENOUGH_REPLICAS; acks=1 accepted"
tcli admin-check isr 3 | tee "$TMP/admin.out" || fail "admin reads"
grep -q "min.insync.replicas=2" "$TMP/admin.out" ||
    fail "describe configs lacks the override"
log "ok: forwarded admin reads and describe cluster"

# refuses_start WHAT PATTERN ARGS...: exit 2 and PATTERN on stderr.
refuses_start() {
    local what=$1 pat=$2
    shift 2
    local rc=0
    timeout 10 "$BRK_BIN" "$@" >"$TMP/refused.out" 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "$what: exit $rc, want 2"
    grep -q -- "$pat" "$TMP/refused.out" ||
        fail "$what: no '$pat' in: $(cat "$TMP/refused.out")"
    log "ok: $what refused: $(head -1 "$TMP/refused.out")"
}
bash "$GEN" "$TMP/certs" b9 >/dev/null || fail "gen-certs b9"
BPORT[9]=$BP1
brk_conf 9
refuses_start "unknown key" "log.flush.polcy" --config "$TMP/b9.properties" \
    --set log.flush.polcy=batch
refuses_start "bad value" "num.partitions" --config "$TMP/b9.properties" \
    --set num.partitions=abc
refuses_start "bad enum" "log.flush.policy" --config "$TMP/b9.properties" \
    --set log.flush.policy=sometimes
refuses_start "missing key" "missing required key" --config /dev/null --set node.id=9
refuses_start "unformatted log dir" "not formatted" \
    --config "$TMP/b9.properties"
"$BRK_BIN" format --config "$TMP/b9.properties" --cluster-id other \
    >/dev/null || fail "format b9"
refuses_start "another cluster's dir" "belongs to cluster other" \
    --config "$TMP/b9.properties" --set cluster.id=brokertest
refuses_start "reformat for another cluster" "already formatted" format \
    --config "$TMP/b9.properties" --cluster-id brokertest
tcli consume bad --count 15 --batch 15 >/dev/null ||
    fail "broker unhealthy after refused starts"
STATUS=0
log "PASS"
