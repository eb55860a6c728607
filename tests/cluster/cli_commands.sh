#!/usr/bin/env bash
# The strata CLI against a real local 3+3 cluster: every broker-facing
# command, its --json output parsed back, and the error paths (unknown
# topic, bad flag, cluster unreachable: one line within the timeout).
#
#   cli_commands.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS STRATA_CLI
source "$(dirname "$0")/broker_lib.sh" "$1" "$2" "$3" "$4"
CLI=$5

cluster_start

cat >"$TMP/client.properties" <<EOF
bootstrap.servers=127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}
ssl.ca.location=$TMP/certs/ca.pem
ssl.certificate.location=$TMP/certs/client.pem
ssl.key.location=$TMP/certs/client.key
EOF
# The broker-facing commands need no controller address (DESIGN.md 1):
# the voters come through the brokers. The controller-facing ones (and the
# override for cluster status) take bootstrap.controllers.
CONTROLLERS=127.0.0.1:${CPORT[1]},127.0.0.1:${CPORT[2]},127.0.0.1:${CPORT[3]}
cp "$TMP/client.properties" "$TMP/client-ctl.properties"
echo "bootstrap.controllers=$CONTROLLERS" >>"$TMP/client-ctl.properties"
export STRATA_CONFIG=$TMP/client.properties
S() { "$CLI" --timeout-ms 10000 "$@"; }

# json EXPR: evaluate the Python expression EXPR on stdin parsed as JSON
# (bound to j); fail the test when it is false.
json() {
    python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}
# jsonl EXPR: the same over a list of JSON lines (bound to js).
jsonl() {
    python3 -c "import json,sys; js=[json.loads(l) for l in sys.stdin if l.strip()]; sys.exit(0 if ($1) else 1)"
}
# one_line_error CODE CMD...: CMD exits with CODE and prints exactly one
# line on stderr that starts with "strata: ".
one_line_error() {
    local want=$1 rc=0
    shift
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want: $(cat "$TMP/err")"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$*: not one line: $(cat "$TMP/err")"
    grep -q "^strata: " "$TMP/err" || fail "$*: $(cat "$TMP/err")"
    log "ok: $* -> $(cat "$TMP/err")"
}

S cluster health --exit-when-healthy --max-wait-ms 30000 >/dev/null ||
    fail "cluster never healthy"
S cluster status --json | json 'len(j["brokers"]) == 3 and
    all(b["state"] == "active" for b in j["brokers"]) and
    j["controller_id"] in (1, 2, 3) and len(j["voters"]) == 3 and
    j["offline_partitions"] == 0' || fail "cluster status --json"
S cluster status --json | json 'sum(v["leader"] for v in j["voters"]) == 1
    and all(0 <= v["lag"] <= 1000 for v in j["voters"]) and
    [v for v in j["voters"] if v["leader"]][0]["id"] == j["controller_id"]' ||
    fail "cluster status --json: voters through brokers: $(S cluster status --json)"
S cluster status >"$TMP/status.txt" || fail "cluster status"
grep -q "^active controller: [123] (127.0.0.1:" "$TMP/status.txt" &&
    [ "$(grep -c '^[123] .* \(leader\|follower\) ' "$TMP/status.txt")" -eq 3 ] ||
    fail "cluster status voters: $(cat "$TMP/status.txt")"
S --bootstrap-controller "127.0.0.1:${CPORT[2]}" cluster status --json |
    json 'len(j["voters"]) == 3' || fail "cluster status with the override"
STRATA_CONFIG=$TMP/client-ctl.properties S cluster health --json |
    json 'j["healthy"]' || fail "cluster health with bootstrap.controllers"
S cluster health --json | json 'j["healthy"] and j["reasons"] == []' ||
    fail "cluster health --json"
timeout 3 "$CLI" cluster health --watch --interval-ms 500 >"$TMP/watch.out"
[ "$(grep -c '^healthy: 3 brokers active' "$TMP/watch.out")" -ge 3 ] ||
    fail "health --watch: $(cat "$TMP/watch.out")"
log "ok: cluster status and health (human, --json, --watch)"

S topic create t1 -p 3 -r 1 -c retention.ms=3600000 --json |
    json 'j == {"topic": "t1", "result": "created"}' || fail "topic create"
S topic create r3 -p 2 -r 3 >/dev/null || fail "topic create r3"
one_line_error 1 S topic create t1 -p 3 -r 1
S topic list --json | json '{"name": "t1", "partitions": 3} in j["topics"] and
    {"name": "r3", "partitions": 2} in j["topics"]' || fail "topic list"
S topic list | grep -q "^t1 " || fail "topic list (human)"
S topic describe r3 --json | json 'all(len(p["replicas"]) == 3 and
    p["leader"] in p["replicas"] for p in j["partitions"])' ||
    fail "topic describe r3: replicas"
log "ok: topic create, list, describe replicas"

printf 'k1:v1\nk2:v2\nk3:v3\n' |
    S produce t1 --key-separator : -H h1=x --acks 1 2>/dev/null ||
    fail "produce"
printf 'p0-a\np0-b\n' | S produce t1 -p 0 --acks 1 2>/dev/null ||
    fail "produce -p 0"
S consume t1 --from-beginning -n 5 --json >"$TMP/c.json" || fail "consume"
jsonl 'len(js) == 5 and
    sorted((m["key"], m["value"]) for m in js if m["key"]) ==
        [("k1", "v1"), ("k2", "v2"), ("k3", "v3")] and
    all(m["headers"] == {"h1": "x"} for m in js if m["key"]) and
    [m["value"] for m in js if m["partition"] == 0 and m["key"] is None] ==
        ["p0-a", "p0-b"] and all(m["timestamp"] > 0 for m in js)' \
    <"$TMP/c.json" || fail "consume --json: $(cat "$TMP/c.json")"
S consume t1 -p 0 --from-beginning -e -f '%t|%p|%k|%v|%h|%T\n' >"$TMP/c.txt" ||
    fail "consume -e"
grep -qx 't1|0||p0-b||1[0-9]\{12\}' "$TMP/c.txt" ||
    fail "consume -f: $(cat "$TMP/c.txt")"
off=$(S consume t1 -p 0 --from-beginning -e -f '%o %v\n' | awk '$2=="p0-b"{print $1}')
S consume t1 -p 0 --offset "$off" -n 1 -f '%v' | grep -qx p0-b ||
    fail "consume --offset"
S topic describe t1 --json | json 'sum(p["end_offset"] for p in
    j["partitions"]) == 5 and all(p["start_offset"] == 0 for p in
    j["partitions"]) and j["configs"].get("retention.ms") == "3600000"' ||
    fail "topic describe offsets: $(S topic describe t1 --json)"
printf 'a\nb\nc\n' | S produce r3 2>/dev/null || fail "produce acks=all to r3"
[ "$(S consume r3 --from-beginning -e | sort | tr -d '\n')" = abc ] ||
    fail "consume r3"
log "ok: produce (keys, headers, -p, acks=all on RF 3) and consume (--json, -f, -e, --offset)"

S topic alter-config t1 -c retention.ms=7200000 >/dev/null ||
    fail "alter-config"
S topic describe t1 --json | json 'j["configs"]["retention.ms"] == "7200000"' ||
    fail "alter-config not visible"
log "ok: topic alter-config"

# add-partitions: t1 grows from 3 to 6, and a new partition takes records
# once the brokers have applied the new metadata (a few ms after the
# answer: retry briefly).
S topic add-partitions t1 --total 6 --json |
    json 'j == {"topic": "t1", "result": "grown", "partitions": 6}' ||
    fail "topic add-partitions"
S topic describe t1 --json | json 'len(j["partitions"]) == 6 and
    all(p["leader"] in p["replicas"] for p in j["partitions"])' ||
    fail "add-partitions not visible: $(S topic describe t1 --json)"
for i in $(seq 1 20); do
    printf 'p5-a\n' | S produce t1 -p 5 --acks 1 2>"$TMP/err" && break
    [ "$i" -lt 20 ] || fail "produce to a new partition: $(cat "$TMP/err")"
    sleep 0.25
done
S consume t1 -p 5 --from-beginning -n 1 -f '%p %o %v' | grep -qx '5 0 p5-a' ||
    fail "consume from a new partition"
one_line_error 1 S topic add-partitions t1 --total 4
grep -q "INVALID_PARTITIONS\|has 6 partitions" "$TMP/err" ||
    fail "fewer partitions: $(cat "$TMP/err")"
one_line_error 1 S topic add-partitions nosuch --total 4
grep -q "nosuch" "$TMP/err" || fail "unknown topic: $(cat "$TMP/err")"
one_line_error 2 S topic add-partitions t1
log "ok: topic add-partitions (grow, produce/consume on the new partition, errors)"

S perf produce --topic t1 --records 3000 --record-size 100 --acks 1 --json \
    2>/dev/null | json 'j["records"] == 3000 and j["failed"] == 0 and
    j["latency_ms"]["p50"] <= j["latency_ms"]["p99"] <= j["latency_ms"]["max"]' ||
    fail "perf produce"
S perf consume --topic t1 --records 3006 --json 2>/dev/null |
    json 'j["records"] == 3006' || fail "perf consume"
log "ok: perf produce and perf consume"

S topic delete t1 --json | json 'j["result"] == "deleted"' ||
    fail "topic delete"
one_line_error 1 S topic describe t1
one_line_error 1 S topic delete t1
log "ok: topic delete"

# Error paths.
one_line_error 1 S produce nosuch </dev/null
one_line_error 1 S consume nosuch -n 1
one_line_error 2 S topic list --bogus
one_line_error 2 S consume
one_line_error 2 S frobnicate
one_line_error 2 S --config "$TMP/missing.properties" topic list
read -r DEAD <<<"$(free_ports 1)"
start=$SECONDS
one_line_error 1 "$CLI" -b "127.0.0.1:$DEAD" --timeout-ms 2000 topic list
[ $((SECONDS - start)) -le 4 ] || fail "unreachable took $((SECONDS - start)) s"
# cluster health answers with its verdict on stdout, exit status 1.
rc=0
"$CLI" -b "127.0.0.1:$DEAD" --timeout-ms 2000 cluster health >"$TMP/out" || rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l <"$TMP/out")" -eq 1 ] &&
    grep -q "^unhealthy: .*127.0.0.1:$DEAD" "$TMP/out" ||
    fail "health of an unreachable cluster: rc=$rc $(cat "$TMP/out")"
log "ok: error paths are one line with a non-zero exit"

# The controller-facing commands take the same file (bootstrap.controllers).
STRATA_CONFIG=$TMP/client-ctl.properties "$CLI" --json quorum describe |
    json 'len(j["voters"]) == 3' ||
    fail "quorum describe through client.properties"
# Without bootstrap.controllers, quorum describe goes through a broker.
"$CLI" --json quorum describe | json 'len(j["voters"]) == 3 and
    j["role"] == "leader" and j["answered_by"] == j["leader_id"] and
    all(v["lag"] >= 0 for v in j["voters"])' ||
    fail "quorum describe through a broker: $("$CLI" --json quorum describe)"
log "ok: quorum describe through client.properties and through a broker"

STATUS=0
log "PASS: cli commands"
