/* libstrata: the C client of strata (producer, consumer, admin).
 *
 * The conventions are librdkafka's, so its users feel at home: string-keyed
 * configuration, one handle per client, delivery reports served from
 * strata_poll(), messages from strata_consumer_poll(). Where librdkafka users
 * complain, strata answers differently: strata_wait_ready() says clearly
 * when no broker is reachable; strata_close() and strata_destroy() take a
 * deadline and never block past it; one memory.limit.bytes budget caps
 * produce and fetch buffers together; the default partitioner is the Java
 * client's murmur2; idempotence is on by default.
 *
 * Threads. Each strata_t runs one background I/O thread with its own
 * libevent loop; it owns every network connection. Every function here may
 * be called from any application thread, concurrently, unless it says
 * otherwise. Callbacks (delivery reports, errors, rebalances) never run on
 * the I/O thread: they run on the application thread that calls
 * strata_poll() (or strata_flush()/strata_close(), which serve them too),
 * so a callback may call any strata_* function except strata_destroy() of
 * its own handle.
 *
 * Errors. Functions return strata_resp_err_t (0: STRATA_ERR_NO_ERROR).
 * Local errors (made by this library: timeouts, full queues, transport) are
 * negative and named STRATA_ERR__X (two underscores); broker errors are the
 * positive codes of proto/errors.proto, named STRATA_ERR_X.
 * strata_err2str() prefixes "Local: " or "Broker: " so the two are told
 * apart in logs.
 *
 * Ownership is stated per function. "Borrowed" means the library reads the
 * pointer during the call only.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_VERSION_STR "0.1.0"

/* ---- errors ---- */

typedef enum strata_resp_err {
    /* Local errors: negative. */
    STRATA_ERR__BEGIN = -200,
    STRATA_ERR__TIMED_OUT = -199,        /* the call's timeout passed */
    STRATA_ERR__MSG_TIMED_OUT = -198,    /* delivery.timeout.ms passed */
    STRATA_ERR__QUEUE_FULL = -197,       /* produce buffers full */
    STRATA_ERR__TRANSPORT = -196,        /* a connection failed */
    STRATA_ERR__ALL_BROKERS_DOWN = -195, /* no broker reachable */
    STRATA_ERR__INVALID_ARG = -194,
    STRATA_ERR__UNKNOWN_TOPIC = -193,    /* not in the cluster metadata */
    STRATA_ERR__UNKNOWN_PARTITION = -192,
    STRATA_ERR__NO_LEADER = -191,        /* partition has no leader now */
    STRATA_ERR__NOT_IMPLEMENTED = -190,
    STRATA_ERR__STATE = -189,            /* wrong handle type or state */
    STRATA_ERR__DESTROY = -188,          /* handle closed before delivery */
    STRATA_ERR__PARTITION_EOF = -187,    /* reached the high watermark */
    STRATA_ERR__BAD_MSG = -186,          /* a corrupt batch was received */
    STRATA_ERR__NOMEM = -185,
    STRATA_ERR__SSL = -184,              /* TLS files or handshake */
    STRATA_ERR__MSG_SIZE_TOO_LARGE = -183, /* over batch.size or memory */
    STRATA_ERR__ASSIGN_PARTITIONS = -182,  /* rebalance: partitions given */
    STRATA_ERR__REVOKE_PARTITIONS = -181,  /* rebalance: partitions taken */
    STRATA_ERR__ASSIGNMENT_LOST = -180,    /* group membership lost */
    STRATA_ERR__NO_OFFSET = -179,        /* no committed offset */
    STRATA_ERR__END = -100,

    STRATA_ERR_NO_ERROR = 0,

    /* Broker errors: proto/errors.proto ErrorCode, value for value. */
    STRATA_ERR_UNKNOWN = 1,
    STRATA_ERR_CORRUPT_MESSAGE = 2,
    STRATA_ERR_UNSUPPORTED_VERSION = 3,
    STRATA_ERR_UNKNOWN_API = 4,
    STRATA_ERR_FRAME_TOO_LARGE = 5,
    STRATA_ERR_INVALID_REQUEST = 6,
    STRATA_ERR_REQUEST_TIMED_OUT = 7,
    STRATA_ERR_AUTHENTICATION_FAILED = 8,
    STRATA_ERR_AUTHORIZATION_FAILED = 9,
    STRATA_ERR_THROTTLED = 10,
    STRATA_ERR_NOT_LEADER = 20,
    STRATA_ERR_NOT_CONTROLLER = 21,
    STRATA_ERR_FENCED_LEADER_EPOCH = 22,
    STRATA_ERR_UNKNOWN_LEADER_EPOCH = 23,
    STRATA_ERR_STALE_BROKER_EPOCH = 24,
    STRATA_ERR_BROKER_FENCED = 25,
    STRATA_ERR_OFFSET_OUT_OF_RANGE = 40,
    STRATA_ERR_NOT_ENOUGH_REPLICAS = 41,
    STRATA_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 42,
    STRATA_ERR_MESSAGE_TOO_LARGE = 43,
    STRATA_ERR_CORRUPT_RECORD = 44,
    STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION = 60,
    STRATA_ERR_TOPIC_ALREADY_EXISTS = 61,
    STRATA_ERR_INVALID_TOPIC = 62,
    STRATA_ERR_POLICY_VIOLATION = 63,
    STRATA_ERR_INVALID_CONFIG = 64,
    STRATA_ERR_INVALID_PARTITIONS = 65,
    STRATA_ERR_INVALID_REPLICATION_FACTOR = 66,
    STRATA_ERR_DUPLICATE_SEQUENCE = 80,
    STRATA_ERR_OUT_OF_ORDER_SEQUENCE = 81,
    STRATA_ERR_INVALID_PRODUCER_EPOCH = 82,
    STRATA_ERR_UNKNOWN_PRODUCER_ID = 83,
    STRATA_ERR_COORDINATOR_NOT_AVAILABLE = 100,
    STRATA_ERR_NOT_COORDINATOR = 101,
    STRATA_ERR_UNKNOWN_MEMBER_ID = 102,
    STRATA_ERR_FENCED_MEMBER_EPOCH = 103,
    STRATA_ERR_REBALANCE_IN_PROGRESS = 104,
    STRATA_ERR_GROUP_ID_NOT_FOUND = 105,
    STRATA_ERR_STALE_MEMBER_EPOCH = 106,
    STRATA_ERR_PARTITION_NOT_OWNED = 107,
    STRATA_ERR_UNRELEASED_INSTANCE_ID = 108,
    STRATA_ERR_UNSUPPORTED_ASSIGNOR = 109,
    STRATA_ERR_GROUP_MAX_SIZE_REACHED = 110,
    STRATA_ERR_NON_EMPTY_GROUP = 111,
} strata_resp_err_t;

/* "Local: Queue full", "Broker: Not leader for partition", or
 * "Unknown error -17" for a code not listed. Static; never NULL. */
const char *strata_err2str(strata_resp_err_t err);
/* The enum name without prefix: "_QUEUE_FULL", "NOT_LEADER". Static. */
const char *strata_err2name(strata_resp_err_t err);

/* ---- configuration ---- */

typedef struct strata_conf_s strata_conf_t;
typedef struct strata_s strata_t;

typedef enum {
    STRATA_CONF_OK = 0,
    STRATA_CONF_UNKNOWN = -1, /* no such key */
    STRATA_CONF_INVALID = -2, /* the value does not parse or is out of range */
} strata_conf_res_t;

/* A configuration holding every default. NULL only when out of memory.
 * Ownership: the caller's, until strata_new() consumes it. */
strata_conf_t *strata_conf_new(void);
/* NULL-safe. */
void strata_conf_destroy(strata_conf_t *conf);
/* A deep copy (callbacks included); NULL when out of memory. */
strata_conf_t *strata_conf_dup(const strata_conf_t *conf);

/* Set @key to @value. On STRATA_CONF_UNKNOWN or STRATA_CONF_INVALID,
 * @errstr (@errstr_size bytes, always NUL-terminated; may be NULL) gets a
 * one-line message that names the key, e.g.
 *   "unknown configuration key 'linger.msec'"
 *   "bad value 'fast' for 'acks': expected one of all|-1|0|1"
 * Keys (defaults in brackets):
 *   bootstrap.servers [""]        host:port[,host:port...] (required)
 *   ssl.ca.location [""]          PEM CA the brokers are verified against
 *                                 (required: every connection is TLS 1.3)
 *   ssl.certificate.location [""] client certificate (mutual TLS)
 *   ssl.key.location [""]         its private key
 *   client.id ["strata"]
 *   acks [all]                    all|-1|0|1
 *   linger.ms [5]                 wait this long for a batch to fill
 *   batch.size [1000000]          bytes per partition batch (uncompressed,
 *                                 record framing included); keep it under
 *                                 the brokers' max.message.bytes
 *   compression.type [none]       none|zstd
 *   enable.idempotence [true]     retries never reorder a partition's
 *                                 records. Until brokers hand out producer
 *                                 ids (no InitProducerId in the client
 *                                 RPCs yet) this keeps one batch in flight
 *                                 per partition, and a retry after a lost
 *                                 answer may still duplicate. false: up to
 *                                 5 in flight, retries may reorder.
 *   retries [2147483647]          resends of a failed batch
 *   retry.backoff.ms [100]
 *   delivery.timeout.ms [120000]  enqueue to delivery report, at most
 *   request.timeout.ms [30000]    one request to a broker
 *   queue.buffering.max.messages [100000]
 *   queue.buffering.max.kbytes [1048576]
 *   memory.limit.bytes [1GiB]     one budget: produce buffers + fetched
 *                                 records not yet returned by poll (a
                                 consumer stops fetching at the limit,
                                 so it may overshoot by one answer)
 *   partitioner [murmur2]         murmur2|murmur2_random|consistent_random|
 *                                 random  (*_random: null keys at random
 *                                 sticky batches; murmur2 does the same)
 *   metadata.max.age.ms [300000]
 *   group.id [""]
 *   group.instance.id [""]        static membership (see strata_subscribe)
 *   auto.offset.reset [latest]    earliest|latest|error
 *   enable.auto.commit [true]
 *   auto.commit.interval.ms [5000]
 *   enable.partition.eof [false]  consumer_poll() returns an event with
 *                                 err STRATA_ERR__PARTITION_EOF (topic,
 *                                 partition, offset = the high watermark)
 *                                 when a partition's fetch position
 *                                 reaches its high watermark: once per
 *                                 position, again after new records or a
 *                                 seek. It follows the records before it.
 *   fetch.min.bytes [1]
 *   fetch.max.wait.ms [500]
 *   max.partition.fetch.bytes [1MiB]
 *   session.timeout.ms [45000]    unused with groups: the brokers'
 *                                 group.consumer.session.timeout.ms
 *                                 applies (KIP-848)
 *   max.poll.interval.ms [300000]
 * Sizes take units (64KiB, 1MiB) and durations take 500ms, 30s, 5m. */
strata_conf_res_t strata_conf_set(strata_conf_t *conf, const char *key,
                                  const char *value, char *errstr,
                                  size_t errstr_size);

/* The value of @key as text into @dest (@dest_size bytes); *@dest_size is
 * set to the bytes needed (with the NUL). */
strata_conf_res_t strata_conf_get(const strata_conf_t *conf, const char *key,
                                  char *dest, size_t *dest_size);

/* Header of a record: @key is a NUL-terminated string, @value a byte string
 * (NULL: null value). */
typedef struct strata_header {
    const char *key;
    const void *value;
    size_t value_len;
} strata_header_t;

/* A record: a delivery report (producer) or a consumed record (consumer).
 * Every pointer inside is owned by the message. */
typedef struct strata_message {
    strata_resp_err_t err;    /* 0, or why delivery/fetching failed */
    const char *errstr;       /* the reason in words ("" when err == 0) */
    const char *topic;
    int32_t partition;
    int64_t offset;           /* -1 when not delivered */
    int64_t timestamp_ms;     /* CreateTime (or LogAppendTime); -1 none */
    const void *key;          /* NULL: null key */
    size_t key_len;
    const void *value;        /* NULL: null value */
    size_t value_len;
    const strata_header_t *headers;
    size_t n_headers;
    void *opaque;             /* producer: the per-message opaque */
} strata_message_t;

/* Free a message from strata_consumer_poll(). NULL-safe. Delivery reports
 * passed to the dr callback are freed by the library after it returns. */
void strata_message_destroy(strata_message_t *msg);

/* Called once per produced record with its outcome: @msg->err 0 and
 * @msg->offset set, or @msg->err and @msg->errstr saying why (no leader,
 * not connected, timed out in flight...). Runs on: the thread calling
 * strata_poll()/strata_flush()/strata_close(). @msg is valid during the
 * call only. */
typedef void (*strata_dr_msg_cb_t)(strata_t *rk, const strata_message_t *msg,
                                   void *opaque);
void strata_conf_set_dr_msg_cb(strata_conf_t *conf, strata_dr_msg_cb_t cb);

/* Client-wide errors (e.g. STRATA_ERR__ALL_BROKERS_DOWN with the reason).
 * Runs on: the thread calling strata_poll(). */
typedef void (*strata_error_cb_t)(strata_t *rk, strata_resp_err_t err,
                                  const char *reason, void *opaque);
void strata_conf_set_error_cb(strata_conf_t *conf, strata_error_cb_t cb);

/* The @opaque passed to every callback of the handle. */
void strata_conf_set_opaque(strata_conf_t *conf, void *opaque);

/* ---- topic+partition lists ---- */

typedef struct strata_topic_partition {
    char *topic;
    int32_t partition;
    int64_t offset;          /* offset, or a STRATA_OFFSET_* sentinel, or a
                              * timestamp for strata_offsets_for_times() */
    strata_resp_err_t err;   /* per-partition result */
} strata_topic_partition_t;

typedef struct strata_topic_partition_list {
    int cnt;
    int size;
    strata_topic_partition_t *elems;
} strata_topic_partition_list_t;

#define STRATA_PARTITION_ANY ((int32_t)-1)
#define STRATA_OFFSET_BEGINNING ((int64_t)-2) /* the log start */
#define STRATA_OFFSET_END ((int64_t)-1)       /* the high watermark */
#define STRATA_OFFSET_INVALID ((int64_t)-1001)

/* NULL when out of memory. Ownership: the caller's; _destroy() it. */
strata_topic_partition_list_t *strata_topic_partition_list_new(int size);
void strata_topic_partition_list_destroy(strata_topic_partition_list_t *l);
/* Append (@topic copied) with offset STRATA_OFFSET_INVALID; the element is
 * valid until the next add. NULL when out of memory. */
strata_topic_partition_t *
strata_topic_partition_list_add(strata_topic_partition_list_t *l,
                                const char *topic, int32_t partition);
/* The element for @topic/@partition, or NULL. */
strata_topic_partition_t *
strata_topic_partition_list_find(const strata_topic_partition_list_t *l,
                                 const char *topic, int32_t partition);

/* Group rebalances (wired by the consumer-groups issue): @err is
 * STRATA_ERR__ASSIGN_PARTITIONS, __REVOKE_PARTITIONS or __ASSIGNMENT_LOST.
 * The callback must call strata_assign() with @partitions (assign) or NULL
 * (revoke, lost). Runs on: the thread calling strata_consumer_poll(). */
typedef void (*strata_rebalance_cb_t)(strata_t *rk, strata_resp_err_t err,
                                      strata_topic_partition_list_t *parts,
                                      void *opaque);
void strata_conf_set_rebalance_cb(strata_conf_t *conf,
                                  strata_rebalance_cb_t cb);
/* Result of an asynchronous commit. Runs on: the strata_consumer_poll()
 * thread. */
typedef void (*strata_offset_commit_cb_t)(
    strata_t *rk, strata_resp_err_t err,
    const strata_topic_partition_list_t *offsets, void *opaque);
void strata_conf_set_offset_commit_cb(strata_conf_t *conf,
                                      strata_offset_commit_cb_t cb);

/* ---- handles ---- */

typedef enum {
    STRATA_PRODUCER,
    STRATA_CONSUMER,
    STRATA_ADMIN,
} strata_type_t;

/* Make a client of @type from @conf and start its I/O thread, which
 * connects to bootstrap.servers in the background. Returns NULL with a
 * one-line reason in @errstr when the configuration is incomplete (no
 * bootstrap.servers, no ssl.ca.location), a TLS file cannot be loaded (the
 * message names the file), or out of memory.
 * Ownership: @conf is consumed on success; on failure the caller keeps it.
 * The handle is the caller's until strata_destroy(). */
strata_t *strata_new(strata_type_t type, strata_conf_t *conf, char *errstr,
                     size_t errstr_size);

/* Wait until the client has cluster metadata from at least one broker.
 * Returns 0, or STRATA_ERR__ALL_BROKERS_DOWN / __SSL / __TIMED_OUT with
 * @errstr naming every bootstrap server and why it could not be reached
 * ("127.0.0.1:9092: connection refused"). Never waits past @timeout_ms. */
strata_resp_err_t strata_wait_ready(strata_t *rk, int timeout_ms,
                                    char *errstr, size_t errstr_size);

/* Serve queued callbacks (delivery reports, errors), waiting up to
 * @timeout_ms (0: do not wait; -1: forever) for the first. Returns how many
 * were served. A producer must call this regularly. */
int strata_poll(strata_t *rk, int timeout_ms);

/* Close the handle by @timeout_ms from now: a producer first flushes
 * (delivery reports served here); records still undelivered at the
 * deadline get STRATA_ERR__DESTROY reports; a consumer stops fetching.
 * Returns 0, or STRATA_ERR__TIMED_OUT when records were left undelivered.
 * Never blocks past the deadline (plus the time to stop the I/O thread,
 * which does not wait on the network). Idempotent. */
strata_resp_err_t strata_close(strata_t *rk, int timeout_ms);

/* Close with a zero deadline if not closed, then free the handle and
 * everything it owns. Never blocks on the network. NULL-safe. */
void strata_destroy(strata_t *rk);

/* client.id-based name of the handle, e.g. "strata#producer-1". */
const char *strata_name(const strata_t *rk);

/* ---- producer ---- */

#define STRATA_MSG_F_COPY 0x1 /* copy @value; the caller keeps it */
#define STRATA_MSG_F_FREE 0x2 /* take @value on success; free()d after
                               * its delivery report */

/* Queue one record for @topic. @partition is a partition number or
 * STRATA_PARTITION_ANY (the partitioner picks: murmur2 of the key; sticky
 * batches for a NULL key). @key (@key_len bytes; NULL: null key) and
 * @headers (@n_headers entries) are always copied. @value is copied with
 * STRATA_MSG_F_COPY; with STRATA_MSG_F_FREE it is taken over on success
 * and freed with free() after its delivery report. @opaque comes back in
 * the delivery report. Exactly one delivery report follows each success.
 * Errors: STRATA_ERR__QUEUE_FULL (queue.buffering.max.messages/.kbytes or
 * memory.limit.bytes reached: call strata_poll() and retry),
 * __MSG_SIZE_TOO_LARGE (one record over batch.size), __UNKNOWN_PARTITION
 * (over the topic's partition count as last known; the metadata is then
 * refreshed, so a retry soon after sees partitions added meanwhile),
 * __INVALID_ARG, __STATE (not a
 * producer, or closed). On error nothing is taken and no report follows. */
strata_resp_err_t strata_produce(strata_t *rk, const char *topic,
                                 int32_t partition, const void *key,
                                 size_t key_len, const void *value,
                                 size_t value_len,
                                 const strata_header_t *headers,
                                 size_t n_headers, int msgflags,
                                 void *opaque);

/* Send everything queued now (ignoring linger.ms) and wait, serving
 * delivery reports, until every record has its report or @timeout_ms
 * passes. Returns 0 or STRATA_ERR__TIMED_OUT. */
strata_resp_err_t strata_flush(strata_t *rk, int timeout_ms);

/* Records queued or in flight whose delivery report was not yet served. */
int strata_outq_len(strata_t *rk);

/* ---- consumer ---- */

/* Consume exactly @partitions from their offsets (a number,
 * STRATA_OFFSET_BEGINNING, STRATA_OFFSET_END, or STRATA_OFFSET_INVALID
 * for auto.offset.reset), replacing the previous assignment; NULL or an
 * empty list unassigns. @partitions is borrowed. Fetching starts at once
 * in the background. Errors: __STATE (not a consumer), __INVALID_ARG. */
strata_resp_err_t strata_assign(strata_t *rk,
                                const strata_topic_partition_list_t *parts);

/* The next record or error event, waiting up to @timeout_ms (-1 forever).
 * NULL when none came in time. A message with err != 0 is an event: e.g.
 * STRATA_ERR_OFFSET_OUT_OF_RANGE with auto.offset.reset=error,
 * STRATA_ERR__PARTITION_EOF with enable.partition.eof, or
 * STRATA_ERR__ASSIGNMENT_LOST once groups exist. Fetches are pipelined:
 * records arrive in the background while the application works.
 * Ownership: the caller's; strata_message_destroy() it. */
strata_message_t *strata_consumer_poll(strata_t *rk, int timeout_ms);

/* Move the fetch position of an assigned partition to @offset (or a
 * STRATA_OFFSET_* sentinel); records fetched before are dropped, so the
 * next record poll returns for it is at @offset. Also resumes a paused
 * partition. Does not wait: a sentinel is resolved in the background
 * (@timeout_ms is unused, kept for librdkafka's signature).
 * Errors: __UNKNOWN_PARTITION (not assigned), __STATE, __INVALID_ARG. */
strata_resp_err_t strata_seek(strata_t *rk, const char *topic,
                              int32_t partition, int64_t offset,
                              int timeout_ms);

/* Stop / restart fetching the listed assigned partitions; records already
 * fetched for a paused partition are held back (its position stays at the
 * next record poll would have returned). Per-element err is set. */
strata_resp_err_t strata_pause(strata_t *rk,
                               strata_topic_partition_list_t *parts);
strata_resp_err_t strata_resume(strata_t *rk,
                                strata_topic_partition_list_t *parts);

/* Fill each element's offset with the offset of the next record poll will
 * return for it (STRATA_OFFSET_INVALID when not yet known). */
strata_resp_err_t strata_position(strata_t *rk,
                                  strata_topic_partition_list_t *parts);

/* For each element, replace offset (a timestamp in ms on input) with the
 * first offset whose record timestamp is at or after it, or
 * STRATA_OFFSET_END when none is (per-element err on failure). Asks the
 * partition leaders; waits up to @timeout_ms. */
strata_resp_err_t strata_offsets_for_times(strata_t *rk,
                                           strata_topic_partition_list_t *p,
                                           int timeout_ms);

/* The log start (*@low) and high watermark (*@high) of a partition, from
 * its leader. Waits up to @timeout_ms. */
strata_resp_err_t strata_query_watermark_offsets(strata_t *rk,
                                                 const char *topic,
                                                 int32_t partition,
                                                 int64_t *low, int64_t *high,
                                                 int timeout_ms);

/* Group membership (requires group.id; KIP-848 style: the coordinator
 * assigns, with the `uniform` sticky assignor).
 *
 * strata_subscribe(): join the group for the topics of @t (partition
 * fields ignored); a name starting with '^' is a POSIX extended regex over
 * topic names (several are alternatives). Replaces the previous
 * subscription. Membership runs in the background; assignments arrive
 * through strata_consumer_poll(), which serves the rebalance callback:
 * rebalances are INCREMENTAL — __REVOKE_PARTITIONS lists only the
 * partitions moving away (commit there if you commit by hand; with
 * enable.auto.commit the library commits them first), __ASSIGN_PARTITIONS
 * only the new ones (offsets: the committed ones, or
 * STRATA_OFFSET_INVALID for auto.offset.reset), __ASSIGNMENT_LOST every
 * partition when membership was lost (no commit is possible; the
 * consumer rejoins). Partitions kept across a rebalance never stop.
 * strata_assign() from the callback is accepted and does nothing; outside
 * it, while subscribed, it fails with __STATE. A lost membership is also
 * returned by poll as an event message with err __ASSIGNMENT_LOST.
 * Errors: __STATE (not a consumer), __INVALID_ARG (no group.id, empty name).
 * group.instance.id makes a static member: close() then leaves with epoch
 * -2, and a restart within the session timeout gets the same partitions.
 * The session timeout is the brokers' group.consumer.session.timeout.ms.
 *
 * strata_unsubscribe(): commit (auto-commit), revoke, leave the group.
 *
 * strata_commit(): commit @offsets (the next offset to consume per
 * partition; NULL: the positions poll has returned, for every assigned
 * partition), synchronously (@async 0: returns the first error, per-
 * partition errors are not reported back) or asynchronously (@async 1: the
 * offset commit callback gets the result from a later poll). Commits are
 * fenced by the member epoch: a partition no longer owned is refused
 * (STRATA_ERR_PARTITION_NOT_OWNED / STALE_MEMBER_EPOCH). Errors: __STATE
 * (no group.id), __NO_OFFSET (nothing consumed yet), __TIMED_OUT (10 s). */
strata_resp_err_t strata_subscribe(strata_t *rk,
                                   const strata_topic_partition_list_t *t);
strata_resp_err_t strata_unsubscribe(strata_t *rk);
strata_resp_err_t strata_commit(strata_t *rk,
                                const strata_topic_partition_list_t *offsets,
                                int async);
/* The committed offset of each element of @parts into its offset
 * (STRATA_OFFSET_INVALID when none) and err. Asks the coordinator; waits
 * up to @timeout_ms. Errors: __STATE (no group.id), __TIMED_OUT. */
strata_resp_err_t strata_committed(strata_t *rk,
                                   strata_topic_partition_list_t *parts,
                                   int timeout_ms);

/* ---- admin (any handle type; calls block up to @timeout_ms) ---- */

typedef struct strata_config_entry {
    const char *key;
    const char *value;
    int remove; /* alter: 1 removes the override (value ignored) */
} strata_config_entry_t;

typedef struct strata_new_topic {
    const char *name;
    int num_partitions;      /* -1: the cluster's num.partitions */
    int replication_factor;  /* -1: default.replication.factor */
    const strata_config_entry_t *configs;
    size_t n_configs;
} strata_new_topic_t;

/* Per-item result of create/delete; @name borrows the request's name. */
typedef struct strata_topic_result {
    const char *name;
    strata_resp_err_t err;
    char errstr[256];
} strata_topic_result_t;

typedef struct strata_partition_info {
    int32_t id;
    strata_resp_err_t err;
    int32_t leader;          /* -1: none */
    int32_t leader_epoch;
    int32_t *replicas;
    int replica_cnt;
    int32_t *isrs;
    int isr_cnt;
} strata_partition_info_t;

typedef struct strata_topic_info {
    char *name;
    strata_resp_err_t err;
    char *errstr;
    strata_partition_info_t *partitions;
    int partition_cnt;
    strata_config_entry_t *configs; /* overrides only (describe_topics) */
    int config_cnt;
} strata_topic_info_t;

typedef struct strata_broker_info {
    int32_t id;
    char *host;
    int port;
    char *rack;
    int fenced;
} strata_broker_info_t;

typedef struct strata_metadata {
    char *cluster_id;
    int32_t controller_id;
    strata_broker_info_t *brokers;
    int broker_cnt;
    strata_topic_info_t *topics;
    int topic_cnt;
} strata_metadata_t;

void strata_metadata_destroy(strata_metadata_t *md); /* NULL-safe */

/* Create @n topics; @results (caller's array of @n) gets each outcome.
 * Returns 0 when the request was answered (check each result), else the
 * request's error with @errstr. */
strata_resp_err_t strata_admin_create_topics(strata_t *rk,
                                             const strata_new_topic_t *t,
                                             size_t n,
                                             strata_topic_result_t *results,
                                             int timeout_ms, char *errstr,
                                             size_t errstr_size);
strata_resp_err_t strata_admin_delete_topics(strata_t *rk,
                                             const char *const *names,
                                             size_t n,
                                             strata_topic_result_t *results,
                                             int timeout_ms, char *errstr,
                                             size_t errstr_size);
/* Topics with partitions (leader, replicas, ISR) and config overrides;
 * @names NULL / @n 0: every topic. *@mdp is the caller's. */
strata_resp_err_t strata_admin_describe_topics(strata_t *rk,
                                               const char *const *names,
                                               size_t n,
                                               strata_metadata_t **mdp,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size);
/* Topic names and partition counts only. */
strata_resp_err_t strata_admin_list_topics(strata_t *rk,
                                           strata_metadata_t **mdp,
                                           int timeout_ms, char *errstr,
                                           size_t errstr_size);
/* Cluster id, active controller and brokers (no topics). */
strata_resp_err_t strata_admin_describe_cluster(strata_t *rk,
                                                strata_metadata_t **mdp,
                                                int timeout_ms, char *errstr,
                                                size_t errstr_size);
/* Grow a topic to @total partitions (create partitions; never shrinks).
 * New partitions get the topic's replication factor and are placed like a
 * new topic's. Producers and consumers see them at their next metadata
 * refresh (metadata.max.age.ms, or at once on an unknown-partition
 * error); keyed records map to new partitions from then on. */
typedef struct strata_new_partitions {
    const char *topic;
    int total;
} strata_new_partitions_t;

/* Create the partitions @t asks for (@n topics); @results (caller's array
 * of @n) gets each outcome: STRATA_ERR_UNKNOWN_TOPIC_OR_PARTITION,
 * STRATA_ERR_INVALID_PARTITIONS (@total not above the current count), or
 * 0 once the partitions are in the applied metadata. Returns 0 when the
 * request was answered (check each result), else the request's error with
 * @errstr. */
strata_resp_err_t strata_admin_create_partitions(
    strata_t *rk, const strata_new_partitions_t *t, size_t n,
    strata_topic_result_t *results, int timeout_ms, char *errstr,
    size_t errstr_size);

/* The controller quorum, through a broker (no controller address needed):
 * one entry per voter, as the voter that answered knows it. Only the
 * active controller knows every voter's log end; when another voter
 * answered (for a moment after an election), the others' log_end_offset
 * and lag are -1. */
typedef struct strata_voter_info {
    int32_t id;
    char *host;
    int port;
    int is_leader;
    int64_t log_end_offset;  /* last Raft index it holds; -1: unknown */
    int64_t lag;             /* entries behind the leader; -1: unknown */
} strata_voter_info_t;

typedef struct strata_quorum_info {
    char *cluster_id;
    int32_t leader_id;       /* the active controller; -1: none known */
    uint64_t term;
    int32_t answered_by;     /* the voter that answered */
    char *answered_role;     /* its role: "leader", "follower", ... */
    uint64_t commit_index;
    uint64_t last_index;
    int64_t applied_offset;  /* the answering voter's applied metadata */
    strata_voter_info_t *voters;
    int voter_cnt;
} strata_quorum_info_t;

/* Ask a broker, which forwards to the active controller. *@qp is the
 * caller's: strata_quorum_info_destroy() it. Errors: the transport's
 * (__TRANSPORT, __TIMED_OUT...), STRATA_ERR_REQUEST_TIMED_OUT (no
 * controller answered the broker), __BAD_MSG, __NOMEM. */
strata_resp_err_t strata_admin_describe_quorum(strata_t *rk,
                                               strata_quorum_info_t **qp,
                                               int timeout_ms, char *errstr,
                                               size_t errstr_size);
void strata_quorum_info_destroy(strata_quorum_info_t *q); /* NULL-safe */

/* Set or remove config overrides of @topic. */
strata_resp_err_t strata_admin_alter_configs(strata_t *rk, const char *topic,
                                             const strata_config_entry_t *c,
                                             size_t n, int timeout_ms,
                                             char *errstr,
                                             size_t errstr_size);
/* For each element: offset in is STRATA_OFFSET_BEGINNING, _END or a
 * timestamp; out is the offset (per-element err on failure). */
strata_resp_err_t strata_admin_list_offsets(strata_t *rk,
                                            strata_topic_partition_list_t *p,
                                            int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
