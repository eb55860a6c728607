/* Fetch: read record batches below the high watermark of the partitions
 * this broker leads, for many partitions per request, with Kafka's long
 * poll: the answer waits up to max_wait_ms until at least min_bytes are
 * readable, and leaves at once when any partition has an error.
 *
 * Per partition: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER (with leader and
 * epoch), FENCED_LEADER_EPOCH when the client's current_leader_epoch is
 * older than ours, UNKNOWN_LEADER_EPOCH when newer (KIP-320), and
 * OFFSET_OUT_OF_RANGE naming the valid range [log start, log end] for a
 * negative or out-of-range fetch offset.
 *
 * The data path. Batches are never decoded or re-encoded: st_log_read()
 * names whole-batch byte ranges of segment files, they are pread() into one
 * payload buffer per response (taken from a small pool of reused buffers)
 * and sent with st_rpc_reply_send_ref(), which hands the buffer to the TLS
 * stream without another copy; the buffer returns to the pool when the
 * bytes are written. So each byte is copied once in user space (file ->
 * buffer) before OpenSSL encrypts it. Kernel TLS with SSL_sendfile() would
 * remove that copy (the log gives the segment fd, st_log_read_result.fd,
 * for exactly this), but this machine's kernel has no `tls` ULP, so the
 * path stays pread-based; a sendfile variant would slot in at read_range().
 * mmap was not used: a response spans several segments and partitions,
 * and the RPC server takes one payload reference per reply.
 */
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metadata_follower.h"
#include "broker/partition.h"
#include "broker/partition_manager.h"
#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/alloc.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/rpc_server.h"
#include "common/vfs.h"
#include "controller/metadata.h"
#include "errors.pb-c.h"

#define POOL_MAX 8
#define POOL_KEEP_BYTES (16u << 20)
#define DEFAULT_MAX_BYTES (50u << 20)
#define DEFAULT_PART_MAX_BYTES (1u << 20)

struct fpart {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    uint32_t max_bytes;
};

struct fetch {
    struct st_fetch_waits *ws;
    struct st_rpc_reply *reply;
    struct fpart *v;
    size_t n;
    uint32_t min_bytes, max_bytes;
    struct event *timer;
    struct fetch *prev, *next;
};

struct st_fetch_waits {
    struct st_broker *b;
    struct fetch *list;
    struct event *kick_ev;
    struct st_buf *pool[POOL_MAX];
    int n_pool;
    size_t sending;     /* payloads handed to the server, not yet done */
    bool closing;       /* freed once sending drops to 0 */
};

/* ---- payload buffers ---- */

static struct st_buf *buf_get(struct st_fetch_waits *ws)
{
    if (ws->n_pool > 0) {
        struct st_buf *b = ws->pool[--ws->n_pool];
        st_buf_reset(b);
        return b;
    }
    struct st_buf *b = st_malloc(sizeof *b);
    if (b != NULL) {
        st_buf_init(b);
    }
    return b;
}

struct sent {
    struct st_fetch_waits *ws;
    struct st_buf *buf;
};

static void buf_put(struct st_fetch_waits *ws, struct st_buf *b)
{
    if (!ws->closing && ws->n_pool < POOL_MAX &&
        b->cap <= POOL_KEEP_BYTES) {
        ws->pool[ws->n_pool++] = b;
        return;
    }
    st_buf_close(b);
    st_free(b);
}

static void waits_destroy(struct st_fetch_waits *ws);

/* Runs on the loop thread once the payload left (or was dropped with its
 * connection, at the latest when the server is freed). */
static void payload_done(void *arg)
{
    struct sent *s = arg;
    struct st_fetch_waits *ws = s->ws;
    buf_put(ws, s->buf);
    st_free(s);
    if (--ws->sending == 0 && ws->closing) {
        waits_destroy(ws);
    }
}

/* ---- per-partition checks ---- */

struct pres {
    Strata__Client__FetchPartitionResponse r;
    char msg[256];
};

static void set_error(struct pres *pr, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct pres *pr, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pr->msg, sizeof pr->msg, fmt, ap);
    va_end(ap);
    pr->r.error = code;
    pr->r.error_message = pr->msg;
}

/* The partition to read for @fp, or NULL with the error set in @pr. */
static struct st_partition *check(struct st_broker *b, const struct fpart *fp,
                                  struct pres *pr)
{
    struct st_partition *p = st_pm_find(b->pm, fp->topic, fp->partition);
    if (p == NULL || !st_partition_is_leader(p)) {
        const struct st_meta *m = st_meta_follower_meta(b->follower);
        const struct st_meta_topic *t = st_meta_topic_by_name(m, fp->topic);
        if (t == NULL || fp->partition < 0 || fp->partition >= t->n_parts) {
            set_error(pr, STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                      t ? "partition %d out of range: topic '%s' has %d"
                        : "unknown topic (partition %d of '%s'; %d)",
                      fp->partition, fp->topic, t ? t->n_parts : 0);
            return NULL;
        }
        pr->r.leader = t->parts[fp->partition].leader;
        pr->r.leader_epoch = t->parts[fp->partition].leader_epoch;
        set_error(pr, STRATA__ERROR_CODE__NOT_LEADER,
                  "broker %d does not lead %s-%d (leader %d, epoch %d)",
                  b->node_id, fp->topic, fp->partition, pr->r.leader,
                  pr->r.leader_epoch);
        return NULL;
    }
    struct st_log *log = st_partition_log(p);
    int32_t le = st_partition_leader_epoch(p);
    pr->r.leader = st_partition_leader(p);
    pr->r.leader_epoch = le;
    pr->r.high_watermark = st_partition_hw(p);
    pr->r.last_stable_offset = st_partition_hw(p);
    pr->r.log_start_offset = st_log_start_offset(log);
    if (fp->epoch >= 0 && fp->epoch < le) {
        set_error(pr, STRATA__ERROR_CODE__FENCED_LEADER_EPOCH,
                  "leader epoch %d is older than %d", fp->epoch, le);
        return NULL;
    }
    if (fp->epoch > le) {
        set_error(pr, STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH,
                  "leader epoch %d is newer than %d", fp->epoch, le);
        return NULL;
    }
    int64_t start = st_log_start_offset(log), end = st_log_end_offset(log);
    if (fp->offset < start || fp->offset > end) {
        set_error(pr, STRATA__ERROR_CODE__OFFSET_OUT_OF_RANGE,
                  "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64
                  "] of %s-%d", fp->offset, start, end, fp->topic,
                  fp->partition);
        return NULL;
    }
    return p;
}

/* Bytes readable now at @fp (first segment range only: an estimate for
 * min_bytes), or -1 when the partition answers with an error. */
static int64_t readable(struct st_broker *b, const struct fpart *fp)
{
    struct pres pr;
    memset(&pr, 0, sizeof pr);
    struct st_partition *p = check(b, fp, &pr);
    if (p == NULL) {
        return -1;
    }
    int64_t hw = st_partition_hw(p);
    if (fp->offset >= hw) {
        return 0;
    }
    struct st_log_read_result r;
    int rv = st_log_read(st_partition_log(p), fp->offset, hw, fp->max_bytes,
                         &r);
    if (rv != 0) {
        return -1;
    }
    int64_t n = (int64_t)r.len;
    st_log_read_release(&r);
    return n;
}

/* pread one range into @out. */
static int read_range(const struct st_log_read_result *r, struct st_buf *out)
{
    int rv = st_buf_reserve(out, (size_t)r->len);
    if (rv != 0) {
        return rv;
    }
    size_t got = 0;
    rv = st_vfs_pread(r->file, out->base + out->len, (size_t)r->len, r->pos,
                      &got);
    if (rv == 0 && got != r->len) {
        rv = ST_EIO;
    }
    if (rv == 0) {
        out->len += got;
    }
    return rv;
}

/* Fill @pr and append the partition's batches to @out, within @budget
 * (the whole-response room left; the first batch of an empty response is
 * sent whole even when larger, so a consumer always progresses). */
static void read_part(struct st_broker *b, const struct fpart *fp,
                      struct pres *pr, struct st_buf *out, size_t *budget)
{
    struct st_partition *p = check(b, fp, pr);
    pr->r.payload_offset = out->len;
    if (p == NULL) {
        return;
    }
    struct st_log *log = st_partition_log(p);
    int64_t hw = st_partition_hw(p), off = fp->offset;
    size_t room = fp->max_bytes < *budget ? fp->max_bytes : *budget;
    while (off < hw && room > 0) {
        struct st_log_read_result r;
        int rv = st_log_read(log, off, hw, room, &r);
        if (rv != 0) {
            set_error(pr, rv == ST_ERANGE
                              ? STRATA__ERROR_CODE__OFFSET_OUT_OF_RANGE
                              : STRATA__ERROR_CODE__UNKNOWN,
                      "reading %s-%d at %" PRId64 ": %s", fp->topic,
                      fp->partition, off, st_strerror(rv));
            break;
        }
        bool fits = r.len <= room || out->len == 0;
        if (r.len == 0 || !fits) {
            st_log_read_release(&r);
            break;
        }
        rv = read_range(&r, out);
        st_log_read_release(&r);
        if (rv != 0) {
            set_error(pr, STRATA__ERROR_CODE__UNKNOWN, "reading %s-%d: %s",
                      fp->topic, fp->partition, st_strerror(rv));
            break;
        }
        room = r.len >= room ? 0 : room - (size_t)r.len;
        *budget = r.len >= *budget ? 0 : *budget - (size_t)r.len;
        off = r.next_offset;
    }
    pr->r.payload_length = out->len - pr->r.payload_offset;
    if (pr->r.error != 0) {
        /* Nothing of an erroring partition is sent. */
        out->len = (size_t)pr->r.payload_offset;
        pr->r.payload_length = 0;
    }
}

static void fetch_free(struct fetch *f)
{
    for (size_t i = 0; i < f->n; i++) {
        st_free(f->v[i].topic);
    }
    if (f->timer) {
        event_free(f->timer);
    }
    st_free(f->v);
    st_free(f);
}

static void unlink_fetch(struct fetch *f)
{
    struct st_fetch_waits *ws = f->ws;
    if (f->prev) {
        f->prev->next = f->next;
    } else if (ws->list == f) {
        ws->list = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }
    f->prev = f->next = NULL;
}

static void answer(struct fetch *f)
{
    struct st_fetch_waits *ws = f->ws;
    struct st_broker *b = ws->b;
    struct pres *pres = st_calloc(f->n + 1, sizeof *pres);
    Strata__Client__FetchPartitionResponse **v =
        st_calloc(f->n + 1, sizeof *v);
    struct st_buf *out = buf_get(ws);
    struct sent *s = st_malloc(sizeof *s);
    if (pres == NULL || v == NULL || out == NULL || s == NULL) {
        st_broker_reply_error(f->reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        st_free(pres);
        st_free(v);
        st_free(s);
        if (out) {
            buf_put(ws, out);
        }
        fetch_free(f);
        return;
    }
    size_t budget = f->max_bytes;
    for (size_t i = 0; i < f->n; i++) {
        Strata__Client__FetchPartitionResponse init =
            STRATA__CLIENT__FETCH_PARTITION_RESPONSE__INIT;
        pres[i].r = init;
        pres[i].r.topic = f->v[i].topic;
        pres[i].r.partition = f->v[i].partition;
        pres[i].r.high_watermark = -1;
        pres[i].r.last_stable_offset = -1;
        pres[i].r.log_start_offset = -1;
        pres[i].r.leader = -1;
        pres[i].r.leader_epoch = -1;
        read_part(b, &f->v[i], &pres[i], out, &budget);
        if (pres[i].r.error != 0) {
            b->stats.fetch_errors++;
        }
        v[i] = &pres[i].r;
    }
    Strata__Client__FetchResponse m = STRATA__CLIENT__FETCH_RESPONSE__INIT;
    m.partitions = v;
    m.n_partitions = f->n;
    struct st_buf body;
    st_buf_init(&body);
    b->stats.fetch_bytes += out->len;
    if (st_pb_pack(&m.base, &body) != 0) {
        st_broker_reply_error(f->reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        buf_put(ws, out);
        st_free(s);
    } else {
        s->ws = ws;
        s->buf = out;
        ws->sending++;
        struct st_bytes payload = {out->base, out->len};
        st_rpc_reply_send_ref(f->reply, 0, NULL, st_pb_view(&body), payload,
                              payload_done, s);
    }
    st_buf_close(&body);
    st_free(pres);
    st_free(v);
    fetch_free(f);
}

/* Ready to answer: an error, enough bytes, or the client left. */
static bool ready(struct fetch *f)
{
    if (st_rpc_reply_is_closed(f->reply)) {
        return true;
    }
    int64_t total = 0;
    for (size_t i = 0; i < f->n; i++) {
        int64_t n = readable(f->ws->b, &f->v[i]);
        if (n < 0) {
            return true;
        }
        total += n;
    }
    return total >= (int64_t)f->min_bytes && (total > 0 || f->min_bytes == 0);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fetch *f = arg;
    unlink_fetch(f);
    answer(f);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct st_fetch_waits *ws = arg;
    struct fetch *f = ws->list;
    while (f != NULL) {
        struct fetch *next = f->next;
        if (ready(f)) {
            unlink_fetch(f);
            answer(f);
        }
        f = next;
    }
}

void st_fetch_waits_kick(struct st_fetch_waits *ws)
{
    if (ws != NULL && ws->list != NULL) {
        event_active(ws->kick_ev, EV_READ, 1);
    }
}

static void fetch_handler(void *arg, const struct st_rpc_request *req,
                          struct st_rpc_reply *reply)
{
    struct st_broker *b = arg;
    struct st_fetch_waits *ws = b->fetches;
    b->stats.fetch_requests++;
    Strata__Client__FetchRequest *in =
        strata__client__fetch_request__unpack(NULL, req->body.len,
                                              req->body.base);
    if (in == NULL) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__CORRUPT_MESSAGE,
                              "FetchRequest does not parse");
        return;
    }
    struct fetch *f = st_calloc(1, sizeof *f);
    if (f != NULL) {
        f->v = st_calloc(in->n_partitions + 1, sizeof *f->v);
        f->timer = evtimer_new(b->base, timer_cb, f);
    }
    bool ok = f != NULL && f->v != NULL && f->timer != NULL;
    for (size_t i = 0; ok && i < in->n_partitions; i++) {
        const Strata__Client__FetchPartition *fp = in->partitions[i];
        f->v[i].topic = st_strdup(fp->topic);
        ok = f->v[i].topic != NULL;
        f->n = i + 1;
        f->v[i].partition = fp->partition;
        f->v[i].offset = fp->fetch_offset;
        f->v[i].epoch = fp->current_leader_epoch;
        f->v[i].max_bytes = fp->partition_max_bytes ? fp->partition_max_bytes
                                                    : DEFAULT_PART_MAX_BYTES;
    }
    if (!ok) {
        st_broker_reply_error(reply, STRATA__ERROR_CODE__UNKNOWN,
                              "out of memory");
        if (f != NULL) {
            fetch_free(f);
        }
        strata__client__fetch_request__free_unpacked(in, NULL);
        return;
    }
    size_t frame_max = st_conf_size(b->conf, "max.frame.bytes");
    size_t cap = frame_max > (1u << 20) ? frame_max - (1u << 19) : frame_max;
    f->ws = ws;
    f->reply = reply;
    f->min_bytes = in->min_bytes;
    f->max_bytes = in->max_bytes ? in->max_bytes : DEFAULT_MAX_BYTES;
    if (f->max_bytes > cap) {
        f->max_bytes = (uint32_t)cap;
    }
    uint32_t wait_ms = in->max_wait_ms;
    strata__client__fetch_request__free_unpacked(in, NULL);
    if (wait_ms == 0 || ready(f)) {
        answer(f);
        return;
    }
    f->next = ws->list;
    if (ws->list) {
        ws->list->prev = f;
    }
    ws->list = f;
    struct timeval tv = {(time_t)(wait_ms / 1000),
                         (suseconds_t)(wait_ms % 1000) * 1000};
    evtimer_add(f->timer, &tv);
}

int st_fetch_waits_new(struct st_broker *b, struct st_fetch_waits **out)
{
    struct st_fetch_waits *ws = st_calloc(1, sizeof *ws);
    if (ws == NULL) {
        return ST_ENOMEM;
    }
    ws->b = b;
    ws->kick_ev = event_new(b->base, -1, 0, kick_cb, ws);
    if (ws->kick_ev == NULL) {
        st_free(ws);
        return ST_ENOMEM;
    }
    *out = ws;
    return 0;
}

static void waits_destroy(struct st_fetch_waits *ws)
{
    for (int i = 0; i < ws->n_pool; i++) {
        st_buf_close(ws->pool[i]);
        st_free(ws->pool[i]);
    }
    event_free(ws->kick_ev);
    st_free(ws);
}

void st_fetch_waits_free(struct st_fetch_waits *ws)
{
    if (ws == NULL) {
        return;
    }
    while (ws->list != NULL) {
        struct fetch *f = ws->list;
        unlink_fetch(f);
        answer(f);
    }
    ws->closing = true;
    if (ws->sending == 0) {
        waits_destroy(ws);
    }
}

int st_broker_fetch_register(struct st_broker *b)
{
    return st_rpc_server_register(b->server, STRATA__CLIENT__API__FETCH, 0, 0,
                                  ST_RPC_UNORDERED, fetch_handler, b);
}
