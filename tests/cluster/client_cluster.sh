#!/usr/bin/env bash
# Cluster test of libstrata: 3 controllers + 3 brokers (real processes,
# mTLS on 127.0.0.1, started by broker_lib.sh) and client_test, which uses
# only the public <strata.h>.
#
#   client_cluster.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS \
#                     CLIENT_TEST EXAMPLE_PRODUCER EXAMPLE_CONSUMER
#
#  1. 100,000 keyed records over 12 partitions: a delivery report for
#     every one, each key on one partition, read back in order per key.
#     The same with compression.type=zstd.
#  2. keyed records produced while broker 1 is killed (kill -9) and
#     restarted: all delivered, no gap and no reordering per key when read
#     back (RF=1: its partitions wait for it; retries may duplicate since
#     brokers have no InitProducerId yet - the count is printed).
#  3. a consumer from earliest, latest, an offset and a timestamp; headers
#     round-trip; position, seek, pause/resume, watermarks.
#  4. brokers stopped (SIGSTOP): QUEUE_FULL at queue.buffering.max.messages,
#     flush(500 ms) returns on time, every record reported with a reason,
#     destroy does not block.
#  5. a bad key / bad value / missing key is refused naming it; wait_ready
#     with no broker fails within its timeout naming the address.
#  6. admin: create (duplicate refused), describe, alter configs,
#     describe cluster, delete (a missing topic refused). List topics is
#     not called: the broker crashes forwarding an empty request body.
#  7. the examples produce and consume through the installed-style header.
# Not here: no duplicates across a leader kill -9 with idempotence - the
# brokers have no InitProducerId (and the test cluster runs RF=1).
CLIENT=$5
EX_PRODUCER=$6
EX_CONSUMER=$7
source "$(dirname "$0")/broker_lib.sh"

BOOTS="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
ct() {
    "$CLIENT" "$BOOTS" "$TMP/certs" "$@" 2>>"$TMP/client.log"
}

cluster_start

ct create keyed 12 1 || fail "create keyed"
ct order keyed 100000 || fail "ordering per key"
log "ok: 100,000 keyed records over 12 partitions, reported and in order"

ct create keyedz 12 1 || fail "create keyedz"
ct order keyedz 20000 zstd || fail "ordering per key with zstd"
log "ok: 20,000 keyed records with zstd, reported and in order"

ct create bounce 6 1 || fail "create bounce"
ct bounce bounce 20000 6 &
BOUNCER=$!
sleep 1.5
kill9 b1
log "broker 1 killed (kill -9) while records flow"
restart_brk 1
wait $BOUNCER || fail "records across a broker kill -9"
log "ok: broker kill -9 and restart: no record lost, order per key kept"

ct create offs 1 1 || fail "create offs"
ct offsets offs || fail "consumer positions"
log "ok: earliest, latest, offset, timestamp, headers, seek, pause"

ct create stall 3 1 || fail "create stall"
ct stalled stall "${PIDS[b1]}" "${PIDS[b2]}" "${PIDS[b3]}" ||
    fail "stalled cluster"
kill -CONT "${PIDS[b1]}" "${PIDS[b2]}" "${PIDS[b3]}"
log "ok: QUEUE_FULL, flush timeout and reasons with the cluster stalled"

ct admin || fail "admin calls"
log "ok: create, describe, alter configs, describe cluster, delete"

CLOSED=$(free_ports 1)
ct errors "$CLOSED" || fail "configuration and no-broker errors"
log "ok: bad config named; wait_ready fails clearly with no broker"

ct create ex 1 1 || fail "create ex"
"$EX_PRODUCER" "$BOOTS" "$TMP/certs/ca.pem" "$TMP/certs/client.pem" \
    "$TMP/certs/client.key" ex 1000 >"$TMP/ex-produce.out" \
    2>>"$TMP/client.log" || fail "example producer"
grep -q "delivered=1000 failed=0" "$TMP/ex-produce.out" ||
    fail "example producer: $(cat "$TMP/ex-produce.out")"
"$EX_CONSUMER" "$BOOTS" "$TMP/certs/ca.pem" "$TMP/certs/client.pem" \
    "$TMP/certs/client.key" ex 0 1000 >"$TMP/ex-consume.out" \
    2>>"$TMP/client.log" || fail "example consumer"
[ "$(wc -l <"$TMP/ex-consume.out")" -eq 1000 ] || fail "example consumer lines"
log "ok: the examples produce and consume 1,000 records"

if grep -q "Sanitizer\|runtime error:" "$TMP/client.log"; then
    grep -B2 -A20 "Sanitizer\|runtime error:" "$TMP/client.log" | head -60
    fail "sanitizer report in the client"
fi
STATUS=0
log "PASS"
