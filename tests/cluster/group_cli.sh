#!/usr/bin/env bash
# The `strata group` commands and the lag table against a real 3+3 cluster:
#
#  1. a consumer reads everything: `group describe` shows lag 0 for every
#     partition (table and --json) with the member, its client id and host;
#  2. the consumer is stopped (SIGSTOP, shorter than the session timeout)
#     while 600 more records arrive: the lag is exactly 600 in total, and
#     back to 0 once it runs again and catches up;
#  3. `group list` (table and --json) shows the group;
#  4. reset-offsets is refused while the group has members; once it is
#     empty, --dry-run changes nothing and --execute with --to-earliest,
#     --to-offset, --shift-by and --to-datetime commits what it printed;
#  5. `strata consume TOPIC --group G` reads through the group and commits
#     on exit;
#  6. a regex subscription gets the topic; auto-commit commits exactly
#     what poll returned (not what was fetched ahead); async commits report
#     through the offset commit callback;
#  7. `group delete` removes the empty group; describe then says so.
#
#   group_cli.sh STRATA_CONTROLLER STRATA_BROKER TESTCLI GEN_CERTS \
#                GROUP_CONSUMER STRATA_CLI
GC=$5
CLI=$6
source "$(dirname "$0")/broker_lib.sh"

BOOTS="127.0.0.1:${BPORT[1]},127.0.0.1:${BPORT[2]},127.0.0.1:${BPORT[3]}"
gc() {
    "$GC" "$BOOTS" "$TMP/certs" "$@" 2>>"$TMP/gc.log"
}
S() { "$CLI" --timeout-ms 15000 "$@"; }
json() {
    python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($1) else 1)"
}

cluster_start "group.consumer.session.timeout.ms=20000" \
    "group.consumer.heartbeat.interval.ms=500"
cat >"$TMP/client.properties" <<EOF
bootstrap.servers=$BOOTS
ssl.ca.location=$TMP/certs/ca.pem
ssl.certificate.location=$TMP/certs/client.pem
ssl.key.location=$TMP/certs/client.key
EOF
export STRATA_CONFIG=$TMP/client.properties

gc create tl 3 1 >/dev/null || fail "create tl"
gc produce tl 3000 0 >/dev/null || fail "produce 3000"

# total_lag GROUP: the sum of the LAG column ("-" counts as unknown: fail).
total_lag() {
    S group describe "$1" --json | python3 -c '
import json,sys
j=json.load(sys.stdin)
ps=j["partitions"]
if len(ps)!=3 or any(p["lag"]<0 for p in ps): sys.exit(1)
print(sum(p["lag"] for p in ps))'
}
lag_is() { [ "$(total_lag "$1")" = "$2" ]; }

# 1. a consumer catches up: lag 0.
"$GC" "$BOOTS" "$TMP/certs" consume gl tl "$TMP/gl.records" \
    client.id=lagreader >"$TMP/gl.out" 2>>"$TMP/gl.log" &
PIDS[gl]=$!
wait_until 60 eval '[ "$(wc -l <"$TMP/gl.records")" -ge 3000 ]' ||
    fail "consumer read $(wc -l <"$TMP/gl.records") of 3000"
wait_until 20 lag_is gl 0 || fail "lag not 0 after catching up: $(total_lag gl)"
S group describe gl >"$TMP/describe.txt" || fail "group describe"
cat "$TMP/describe.txt"
grep -q "GROUP *TOPIC *PARTITION *CURRENT-OFFSET *LOG-END-OFFSET *LAG *MEMBER" \
    "$TMP/describe.txt" || fail "describe: no lag table header"
grep -q "lagreader *127.0.0.1" "$TMP/describe.txt" ||
    fail "describe: member client id and host missing"
S group describe gl --json | json \
    'len(j["members"])==1 and j["members"][0]["client_id"]=="lagreader" and sum(len(m["assigned"]) for m in j["members"])==3 and all(p["member"]!="-" for p in j["partitions"])' ||
    fail "describe --json members"
log "ok: describe shows lag 0, the member, its client id and host"

# 2. lag while the consumer is stopped, zero after it catches up.
kill -STOP "${PIDS[gl]}"
gc produce tl 600 0 >/dev/null || fail "produce 600"
wait_until 10 lag_is gl 600 || fail "lag while stopped: $(total_lag gl), want 600"
log "ok: lag is 600 while the consumer is stopped"
S group describe gl | sed -n '/^GROUP/,$p'
kill -CONT "${PIDS[gl]}"
wait_until 30 lag_is gl 0 || fail "lag after catching up: $(total_lag gl)"
log "ok: lag back to 0 after the consumer caught up"

# 3. list.
S group list | grep -q "^gl " || fail "group list"
S group list --json | json 'any(g["group"]=="gl" and g["members"]==1 for g in j)' ||
    fail "group list --json"
log "ok: group list (table and --json)"

# 4. reset-offsets: refused with members, then dry run and execute.
if S group reset-offsets gl --topic tl --to-earliest --execute 2>"$TMP/err"; then
    fail "reset-offsets with a member was accepted"
fi
grep -q "active member" "$TMP/err" || fail "refusal does not say why: $(cat "$TMP/err")"
log "ok: reset-offsets refused while the group has a member: $(cat "$TMP/err")"
kill -TERM "${PIDS[gl]}"
wait "${PIDS[gl]}"
unset "PIDS[gl]"
wait_until 10 eval 'S group describe gl --json | json "len(j[\"members\"])==0"' ||
    fail "member did not leave on close"
S group reset-offsets gl --topic tl --to-earliest --dry-run >/dev/null ||
    fail "dry run"
lag_is gl 0 || fail "dry run changed offsets"
S group reset-offsets gl --topic tl --to-earliest --execute >/dev/null ||
    fail "reset --to-earliest"
lag_is gl 3600 || fail "lag after --to-earliest: $(total_lag gl)"
S group reset-offsets gl --topic tl --to-offset 100 --execute --json |
    json 'all(p["new_offset"]==100 for p in j["partitions"])' ||
    fail "reset --to-offset"
S group reset-offsets gl --topic tl --shift-by 50 --execute >/dev/null ||
    fail "reset --shift-by"
S group describe gl --json |
    json 'all(p["current_offset"]==150 for p in j["partitions"])' ||
    fail "--shift-by 50 from 100"
S group reset-offsets gl --topic tl --to-datetime 2000-01-01T00:00:00 \
    --execute >/dev/null || fail "reset --to-datetime"
lag_is gl 3600 || fail "--to-datetime in the past should be the start"
S group reset-offsets gl --topic tl --to-latest --execute >/dev/null ||
    fail "reset --to-latest"
lag_is gl 0 || fail "--to-latest"
log "ok: reset-offsets dry run, earliest, offset, shift-by, datetime, latest"

# 5. strata consume --group.
S consume tl --group gc1 --from-beginning -n 100 >"$TMP/consume.out" ||
    fail "consume --group"
[ "$(wc -l <"$TMP/consume.out")" -eq 100 ] || fail "consume --group printed $(wc -l <"$TMP/consume.out")"
S group describe gc1 --json |
    json 'sum(p["current_offset"] for p in j["partitions"] if p["current_offset"]>0) >= 100' ||
    fail "consume --group did not commit what it printed"
log "ok: strata consume --group reads through the group and commits"

# 6. a regex subscription, auto-commit of only what poll returned, async
# commits with their callback.
committed_sum() {
    S group describe "$1" --json | python3 -c '
import json,sys
j=json.load(sys.stdin)
print(sum(max(p["current_offset"],0) for p in j["partitions"]))'
}
"$GC" "$BOOTS" "$TMP/certs" consume grx '^t[l]$' "$TMP/grx.records" \
    >"$TMP/grx.out" 2>>"$TMP/grx.log" &
PIDS[grx]=$!
wait_until 60 eval '[ "$(wc -l <"$TMP/grx.records")" -ge 3600 ]' ||
    fail "regex member read $(wc -l <"$TMP/grx.records") of 3600"
wait_until 20 lag_is grx 0 || fail "regex member lag $(total_lag grx)"
kill -TERM "${PIDS[grx]}"; wait "${PIDS[grx]}"; unset "PIDS[grx]"
log "ok: a regex subscription (^t[l]\$) got every partition of tl"

"$GC" "$BOOTS" "$TMP/certs" consume gauto tl "$TMP/gauto.records" \
    enable.auto.commit=true auto.commit.interval.ms=200 hold.after=1000 \
    >"$TMP/gauto.out" 2>>"$TMP/gauto.log" &
PIDS[gauto]=$!
wait_until 30 eval '[ "$(committed_sum gauto)" = 1000 ]' ||
    fail "auto-commit: committed $(committed_sum gauto), poll returned 1000"
sleep 1
[ "$(committed_sum gauto)" = 1000 ] ||
    fail "auto-commit committed records poll never returned: $(committed_sum gauto)"
kill -TERM "${PIDS[gauto]}"; wait "${PIDS[gauto]}"; unset "PIDS[gauto]"
[ "$(committed_sum gauto)" = 1000 ] || fail "close committed $(committed_sum gauto)"
log "ok: auto-commit commits exactly what poll returned (1000 of 3600 fetched ahead)"

"$GC" "$BOOTS" "$TMP/certs" consume gasync tl "$TMP/gasync.records" \
    commit.async=true >"$TMP/gasync.out" 2>>"$TMP/gasync.log" &
PIDS[gasync]=$!
wait_until 60 eval '[ "$(wc -l <"$TMP/gasync.records")" -ge 3600 ]' ||
    fail "async member read $(wc -l <"$TMP/gasync.records")"
wait_until 20 lag_is gasync 0 || fail "async commits: lag $(total_lag gasync)"
kill -TERM "${PIDS[gasync]}"; wait "${PIDS[gasync]}"; unset "PIDS[gasync]"
grep -q "async_ok=[1-9][0-9]* async_failed=0" "$TMP/gasync.out" ||
    fail "async commit callbacks: $(tail -n 1 "$TMP/gasync.out")"
log "ok: async commits reported by the callback: $(grep -o 'async_ok=[0-9]*' "$TMP/gasync.out")"

# 7. delete.
S group delete gl >/dev/null || fail "group delete"
if S group describe gl 2>"$TMP/err"; then
    fail "describe of a deleted group succeeded"
fi
grep -qi "no such group\|not found" "$TMP/err" || fail "describe after delete: $(cat "$TMP/err")"
log "ok: group delete; the group is gone"
STATUS=0
