/* strata_err2str(): local errors read "Local: ...", broker errors
 * "Broker: ...", so logs tell who decided. */
#include "client/lib/errors.h"

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

struct desc {
    strata_resp_err_t err;
    const char *name;
    const char *text;
};

static const struct desc descs[] = {
    {STRATA_ERR__TIMED_OUT, "_TIMED_OUT", "Local: Timed out"},
    {STRATA_ERR__MSG_TIMED_OUT, "_MSG_TIMED_OUT",
     "Local: Message timed out (delivery.timeout.ms)"},
    {STRATA_ERR__QUEUE_FULL, "_QUEUE_FULL", "Local: Queue full"},
    {STRATA_ERR__TRANSPORT, "_TRANSPORT", "Local: Broker transport failure"},
    {STRATA_ERR__ALL_BROKERS_DOWN, "_ALL_BROKERS_DOWN",
     "Local: All brokers are down"},
    {STRATA_ERR__INVALID_ARG, "_INVALID_ARG", "Local: Invalid argument"},
    {STRATA_ERR__UNKNOWN_TOPIC, "_UNKNOWN_TOPIC", "Local: Unknown topic"},
    {STRATA_ERR__UNKNOWN_PARTITION, "_UNKNOWN_PARTITION",
     "Local: Unknown partition"},
    {STRATA_ERR__NO_LEADER, "_NO_LEADER", "Local: Partition has no leader"},
    {STRATA_ERR__NOT_IMPLEMENTED, "_NOT_IMPLEMENTED",
     "Local: Not implemented yet"},
    {STRATA_ERR__STATE, "_STATE",
     "Local: Operation not valid for this handle or state"},
    {STRATA_ERR__DESTROY, "_DESTROY", "Local: Handle closed"},
    {STRATA_ERR__PARTITION_EOF, "_PARTITION_EOF",
     "Local: Reached the end of the partition"},
    {STRATA_ERR__BAD_MSG, "_BAD_MSG", "Local: Corrupt record batch received"},
    {STRATA_ERR__NOMEM, "_NOMEM", "Local: Out of memory"},
    {STRATA_ERR__SSL, "_SSL", "Local: TLS failure"},
    {STRATA_ERR__MSG_SIZE_TOO_LARGE, "_MSG_SIZE_TOO_LARGE",
     "Local: Message larger than batch.size"},
    {STRATA_ERR__ASSIGN_PARTITIONS, "_ASSIGN_PARTITIONS",
     "Local: Assign partitions"},
    {STRATA_ERR__REVOKE_PARTITIONS, "_REVOKE_PARTITIONS",
     "Local: Revoke partitions"},
    {STRATA_ERR__ASSIGNMENT_LOST, "_ASSIGNMENT_LOST",
     "Local: Group membership lost"},
    {STRATA_ERR__NO_OFFSET, "_NO_OFFSET", "Local: No offset stored"},
    {STRATA_ERR_NO_ERROR, "NO_ERROR", "Success"},
    {STRATA_ERR_UNKNOWN, "UNKNOWN", "Broker: Unknown server error"},
    {STRATA_ERR_CORRUPT_MESSAGE, "CORRUPT_MESSAGE",
     "Broker: Corrupt request frame"},
    {STRATA_ERR_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION",
     "Broker: Unsupported API version"},
    {STRATA_ERR_UNKNOWN_API, "UNKNOWN_API", "Broker: Unknown API"},
    {STRATA_ERR_FRAME_TOO_LARGE, "FRAME_TOO_LARGE",
     "Broker: Request frame too large"},
    {STRATA_ERR_INVALID_REQUEST, "INVALID_REQUEST", "Broker: Invalid request"},
    {STRATA_ERR_REQUEST_TIMED_OUT, "REQUEST_TIMED_OUT",
     "Broker: Request timed out"},
    {STRATA_ERR_AUTHENTICATION_FAILED, "AUTHENTICATION_FAILED",
     "Broker: Authentication failed"},
    {STRATA_ERR_AUTHORIZATION_FAILED, "AUTHORIZATION_FAILED",
     "Broker: Not authorized"},
    {STRATA_ERR_THROTTLED, "THROTTLED", "Broker: Throttled"},
    {STRATA_ERR_NOT_LEADER, "NOT_LEADER", "Broker: Not leader for partition"},
    {STRATA_ERR_NOT_CONTROLLER, "NOT_CONTROLLER",
     "Broker: Not the active controller"},
    {STRATA_ERR_FENCED_LEADER_EPOCH, "FENCED_LEADER_EPOCH",
     "Broker: Leader epoch is older than the broker's"},
    {STRATA_ERR_UNKNOWN_LEADER_EPOCH, "UNKNOWN_LEADER_EPOCH",
     "Broker: Leader epoch is newer than the broker's"},
    {STRATA_ERR_STALE_BROKER_EPOCH, "STALE_BROKER_EPOCH",
     "Broker: Stale broker epoch"},
    {STRATA_ERR_BROKER_FENCED, "BROKER_FENCED", "Broker: Broker is fenced"},
    {STRATA_ERR_OFFSET_OUT_OF_RANGE, "OFFSET_OUT_OF_RANGE",
     "Broker: Offset out of range"},
    {STRATA_ERR_NOT_ENOUGH_REPLICAS, "NOT_ENOUGH_REPLICAS",
     "Broker: Not enough in-sync replicas"},
    {STRATA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
     "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
     "Broker: Not enough in-sync replicas after append"},
    {STRATA_ERR_MESSAGE_TOO_LARGE, "MESSAGE_TOO_LARGE",
     "Broker: Message too large"},
    {STRATA_ERR_CORRUPT_RECORD, "CORRUPT_RECORD",
     "Broker: Corrupt record batch"},
    {STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION, "UNKNOWN_TOPIC_OR_PARTITION",
     "Broker: Unknown topic or partition"},
    {STRATA_ERR_TOPIC_ALREADY_EXISTS, "TOPIC_ALREADY_EXISTS",
     "Broker: Topic already exists"},
    {STRATA_ERR_INVALID_TOPIC, "INVALID_TOPIC", "Broker: Invalid topic"},
    {STRATA_ERR_POLICY_VIOLATION, "POLICY_VIOLATION",
     "Broker: Policy violation"},
    {STRATA_ERR_INVALID_CONFIG, "INVALID_CONFIG",
     "Broker: Invalid configuration"},
    {STRATA_ERR_INVALID_PARTITIONS, "INVALID_PARTITIONS",
     "Broker: Invalid number of partitions"},
    {STRATA_ERR_INVALID_REPLICATION_FACTOR, "INVALID_REPLICATION_FACTOR",
     "Broker: Invalid replication factor"},
    {STRATA_ERR_DUPLICATE_SEQUENCE, "DUPLICATE_SEQUENCE",
     "Broker: Duplicate sequence number"},
    {STRATA_ERR_OUT_OF_ORDER_SEQUENCE, "OUT_OF_ORDER_SEQUENCE",
     "Broker: Out of order sequence number"},
    {STRATA_ERR_INVALID_PRODUCER_EPOCH, "INVALID_PRODUCER_EPOCH",
     "Broker: Producer fenced by a newer epoch"},
    {STRATA_ERR_UNKNOWN_PRODUCER_ID, "UNKNOWN_PRODUCER_ID",
     "Broker: Unknown producer id"},
    {STRATA_ERR_COORDINATOR_NOT_AVAILABLE, "COORDINATOR_NOT_AVAILABLE",
     "Broker: Group coordinator not available"},
    {STRATA_ERR_NOT_COORDINATOR, "NOT_COORDINATOR",
     "Broker: Not the group coordinator"},
    {STRATA_ERR_UNKNOWN_MEMBER_ID, "UNKNOWN_MEMBER_ID",
     "Broker: Unknown group member"},
    {STRATA_ERR_FENCED_MEMBER_EPOCH, "FENCED_MEMBER_EPOCH",
     "Broker: Group member fenced"},
    {STRATA_ERR_REBALANCE_IN_PROGRESS, "REBALANCE_IN_PROGRESS",
     "Broker: Group rebalance in progress"},
    {STRATA_ERR_GROUP_ID_NOT_FOUND, "GROUP_ID_NOT_FOUND",
     "Broker: Group not found"},
    {STRATA_ERR_STALE_MEMBER_EPOCH, "STALE_MEMBER_EPOCH",
     "Broker: Stale member epoch"},
    {STRATA_ERR_PARTITION_NOT_OWNED, "PARTITION_NOT_OWNED",
     "Broker: Partition not owned by the member"},
    {STRATA_ERR_UNRELEASED_INSTANCE_ID, "UNRELEASED_INSTANCE_ID",
     "Broker: group.instance.id held by a live member"},
    {STRATA_ERR_UNSUPPORTED_ASSIGNOR, "UNSUPPORTED_ASSIGNOR",
     "Broker: Unsupported assignor"},
    {STRATA_ERR_GROUP_MAX_SIZE_REACHED, "GROUP_MAX_SIZE_REACHED",
     "Broker: Group is full"},
    {STRATA_ERR_NON_EMPTY_GROUP, "NON_EMPTY_GROUP",
     "Broker: The group has members"},
};

static const struct desc *find(strata_resp_err_t err)
{
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        if (descs[i].err == err) {
            return &descs[i];
        }
    }
    return NULL;
}

const char *strata_err2str(strata_resp_err_t err)
{
    static _Thread_local char buf[48];
    const struct desc *d = find(err);
    if (d != NULL) {
        return d->text;
    }
    snprintf(buf, sizeof buf, "Unknown error %d", (int)err);
    return buf;
}

const char *strata_err2name(strata_resp_err_t err)
{
    const struct desc *d = find(err);
    return d != NULL ? d->name : "?";
}

strata_resp_err_t cl_err_from_broker(int32_t code)
{
    if (code <= 0) {
        return STRATA_ERR_NO_ERROR;
    }
    const struct desc *d = find((strata_resp_err_t)code);
    return d != NULL ? d->err : STRATA_ERR_UNKNOWN;
}

strata_resp_err_t cl_err_from_st(int rv)
{
    switch (rv) {
    case 0:
        return STRATA_ERR_NO_ERROR;
    case ST_ETIMEDOUT:
        return STRATA_ERR__TIMED_OUT;
    case ST_ENOMEM:
        return STRATA_ERR__NOMEM;
    case ST_ETLS:
        return STRATA_ERR__SSL;
    case ST_EINVAL:
        return STRATA_ERR__INVALID_ARG;
    case ST_ECORRUPT:
    case ST_ECRC:
    case ST_ECOMPRESS:
    case ST_EPROTO:
        return STRATA_ERR__BAD_MSG;
    case ST_ECANCELED:
        return STRATA_ERR__DESTROY;
    default:
        return STRATA_ERR__TRANSPORT;
    }
}

bool cl_err_needs_metadata(strata_resp_err_t err)
{
    switch (err) {
    case STRATA_ERR_NOT_LEADER:
    case STRATA_ERR_FENCED_LEADER_EPOCH:
    case STRATA_ERR_UNKNOWN_LEADER_EPOCH:
    case STRATA_ERR_BROKER_FENCED:
    case STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case STRATA_ERR__NO_LEADER:
    case STRATA_ERR__TRANSPORT:
        return true;
    default:
        return false;
    }
}

bool cl_err_retriable(strata_resp_err_t err)
{
    switch (err) {
    case STRATA_ERR__TIMED_OUT:
    case STRATA_ERR_REQUEST_TIMED_OUT:
    case STRATA_ERR_NOT_ENOUGH_REPLICAS:
    case STRATA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case STRATA_ERR_THROTTLED:
        return true;
    default:
        return cl_err_needs_metadata(err);
    }
}
