# Shared by the replication cluster tests (sourced after broker_lib.sh):
#   rcli ARGS...          repl_testcli with every broker as bootstrap
#   wait_isr TOPIC PARTS N  every partition's ISR has N members (bounded)
#   digests_equal TOPIC P   the three replicas hold the same bytes
RCLI_BIN=$5
CHECK=$6

rcli() {
    "$RCLI_BIN" --bootstrap "127.0.0.1:$BP1,127.0.0.1:$BP2,127.0.0.1:$BP3" \
        --certs "$TMP/certs" "$@"
}

isr_full() {
    local topic=$1 parts=$2 n=$3 p
    for p in $(seq 0 $((parts - 1))); do
        rcli isr "$topic" "$p" | grep -q "^isr=$n " || return 1
    done
}

wait_isr() {
    wait_until "${4:-60}" isr_full "$1" "$2" "$3" ||
        fail "ISR of $1 did not reach $3 members"
}

digests_equal() {
    local topic=$1 p=$2 a b c
    a=$(rcli replica-digest "$topic" "$p" 1) || return 1
    b=$(rcli replica-digest "$topic" "$p" 2) || return 1
    c=$(rcli replica-digest "$topic" "$p" 3) || return 1
    # start end hw digest: the HW may lag on followers; compare the rest.
    [ "$(echo "$a" | cut -d' ' -f1,2,4)" = "$(echo "$b" | cut -d' ' -f1,2,4)" ] &&
        [ "$(echo "$a" | cut -d' ' -f1,2,4)" = "$(echo "$c" | cut -d' ' -f1,2,4)" ]
}

# brk_of_id ID -> the PIDS key
leader_id() {
    rcli isr "$1" "$2" | sed -n 's/.*leader=\([0-9-]*\).*/\1/p'
}

# acked_over FILE N: the history FILE has more than N "ok" lines.
acked_over() {
    [ "$(grep -c '"type":"ok"' "$1" 2>/dev/null || echo 0)" -gt "$2" ]
}
