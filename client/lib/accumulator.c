/* Per-partition batching, in-flight limits, ordered retries and limits. */
#include "client/lib/accumulator.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"

/* What a record adds to an encoded batch, at most: key, value, headers
 * and the varints around them - record length (3 bytes below 2 MiB),
 * attributes (1), timestamp delta (zigzag; 5 bytes up to 2^34 ms, 10 in
 * the worst case), offset delta (3), key and value lengths (3 each),
 * header count (1): 24 with room to spare; per header, key and value
 * lengths: 4. A batch of records adds ST_BATCH_HEADER_BYTES. */
#define RECORD_OVERHEAD 24
#define HEADER_OVERHEAD 4

static size_t payload(const struct cl_msg *m)
{
    return m->bytes - sizeof *m -
           m->n_hdrs * sizeof(struct st_record_header) + RECORD_OVERHEAD +
           m->n_hdrs * HEADER_OVERHEAD;
}

/* Room for records in one batch. */
static size_t batch_room(const struct cl_acc *acc)
{
    return acc->opts.batch_bytes > ST_BATCH_HEADER_BYTES
               ? acc->opts.batch_bytes - ST_BATCH_HEADER_BYTES
               : 0;
}

void cl_acc_init(struct cl_acc *acc, const struct cl_acc_opts *opts,
                 struct cl_budget *budget)
{
    memset(acc, 0, sizeof *acc);
    acc->opts = *opts;
    if (acc->opts.max_in_flight == 0) {
        acc->opts.max_in_flight = 1;
    }
    acc->budget = budget;
}

void cl_acc_part_init(struct cl_acc_part *p)
{
    memset(p, 0, sizeof *p);
}

int cl_msg_new(const void *key, size_t key_len, const void *value,
               size_t value_len, bool copy_value,
               const strata_header_t *headers, size_t n_headers,
               int64_t timestamp_ms, uint64_t now_ms, void *opaque,
               struct cl_msg **out)
{
    size_t hbytes = n_headers * sizeof(struct st_record_header);
    for (size_t i = 0; i < n_headers; i++) {
        hbytes += strlen(headers[i].key) + 1 + headers[i].value_len;
    }
    size_t vcopy = copy_value && value != NULL ? value_len : 0;
    struct cl_msg *m = st_malloc(sizeof *m + hbytes + key_len + vcopy);
    if (m == NULL) {
        return ST_ENOMEM;
    }
    memset(m, 0, sizeof *m);
    uint8_t *p = (uint8_t *)(m + 1);
    m->hdrs = (struct st_record_header *)p;
    m->n_hdrs = n_headers;
    p += n_headers * sizeof(struct st_record_header);
    for (size_t i = 0; i < n_headers; i++) {
        size_t kl = strlen(headers[i].key);
        memcpy(p, headers[i].key, kl + 1);
        m->hdrs[i].key = (const char *)p;
        m->hdrs[i].key_len = kl;
        p += kl + 1;
        m->hdrs[i].value = NULL;
        if (headers[i].value != NULL) {
            memcpy(p, headers[i].value, headers[i].value_len);
            m->hdrs[i].value = p;
        }
        m->hdrs[i].value_len = headers[i].value_len;
        p += headers[i].value_len;
    }
    if (key != NULL) {
        memcpy(p, key, key_len);
        m->key = p;
        m->key_len = key_len;
        p += key_len;
    }
    if (value != NULL && copy_value) {
        memcpy(p, value, value_len);
        m->value = p;
    } else if (value != NULL) {
        m->value = (uint8_t *)value;
        m->value_owned_by_app = true;
    }
    m->value_len = value != NULL ? value_len : 0;
    m->timestamp_ms = timestamp_ms;
    m->enq_ms = now_ms;
    m->opaque = opaque;
    m->offset = -1;
    m->partition = -1;
    m->bytes = sizeof *m + hbytes + key_len + m->value_len;
    *out = m;
    return 0;
}

void cl_msg_free(struct cl_msg *m)
{
    if (m == NULL) {
        return;
    }
    if (m->value_owned_by_app) {
        free(m->value);
    }
    st_free(m->errstr);
    st_free(m);
}

int cl_acc_reserve(struct cl_acc *acc, const struct cl_msg *m)
{
    if (payload(m) > batch_room(acc) ||
        m->bytes > acc->opts.queue_bytes_max ||
        (acc->budget != NULL && m->bytes > acc->budget->limit)) {
        return ST_ETOOBIG;
    }
    if (acc->msgs + 1 > acc->opts.queue_msgs_max ||
        acc->bytes + m->bytes > acc->opts.queue_bytes_max ||
        (acc->budget != NULL &&
         acc->budget->used + m->bytes > acc->budget->limit)) {
        return ST_EAGAIN;
    }
    acc->msgs++;
    acc->bytes += m->bytes;
    if (acc->budget != NULL) {
        acc->budget->used += m->bytes;
    }
    return 0;
}

void cl_acc_release(struct cl_acc *acc, const struct cl_msg *m)
{
    acc->msgs--;
    acc->bytes -= m->bytes;
    if (acc->budget != NULL) {
        acc->budget->used -= m->bytes;
    }
}


void cl_acc_append(struct cl_acc_part *p, struct cl_msg *m)
{
    m->next = NULL;
    if (p->tail != NULL) {
        p->tail->next = m;
    } else {
        p->head = m;
    }
    p->tail = m;
    p->n++;
    p->bytes += payload(m);
}

bool cl_acc_ready(const struct cl_acc *acc, const struct cl_acc_part *p,
                  uint64_t now_ms, bool flush, uint64_t *wake_ms)
{
    if (p->in_flight >= acc->opts.max_in_flight) {
        return false; /* a response will wake us */
    }
    if (p->retry != NULL) {
        if (p->in_flight > 0) {
            /* Resends wait for every batch in flight to come back, so
             * they leave in order ahead of it (an answer wakes us). */
            return false;
        }
        if (now_ms >= p->backoff_until_ms) {
            return true;
        }
        if (p->backoff_until_ms < *wake_ms) {
            *wake_ms = p->backoff_until_ms;
        }
        return false;
    }
    if (p->head == NULL) {
        return false;
    }
    if (flush || p->bytes >= batch_room(acc)) {
        return true;
    }
    uint64_t due = p->head->enq_ms + acc->opts.linger_ms;
    if (now_ms >= due) {
        return true;
    }
    if (due < *wake_ms) {
        *wake_ms = due;
    }
    return false;
}

struct cl_batch *cl_acc_drain(struct cl_acc *acc, struct cl_acc_part *p)
{
    struct cl_batch *b = p->retry;
    if (b != NULL) {
        p->retry = b->next;
        b->next = NULL;
        p->in_flight++;
        return b;
    }
    if (p->head == NULL) {
        return NULL;
    }
    b = st_calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->number = p->next_number++;
    b->base_seq = -1;
    while (p->head != NULL &&
           (b->n == 0 || b->bytes + payload(p->head) <= batch_room(acc))) {
        struct cl_msg *m = p->head;
        p->head = m->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->n--;
        p->bytes -= payload(m);
        m->next = NULL;
        if (b->msgs_tail != NULL) {
            b->msgs_tail->next = m;
        } else {
            b->msgs = m;
        }
        b->msgs_tail = m;
        b->n++;
        b->bytes += payload(m);
    }
    p->in_flight++;
    return b;
}

void cl_acc_done(struct cl_acc_part *p, struct cl_batch *b)
{
    (void)b;
    p->in_flight--;
}

void cl_acc_retry(struct cl_acc_part *p, struct cl_batch *b, uint64_t now_ms,
                  uint64_t backoff_ms)
{
    p->in_flight--;
    b->attempts++;
    struct cl_batch **at = &p->retry;
    while (*at != NULL && (*at)->number < b->number) {
        at = &(*at)->next;
    }
    b->next = *at;
    *at = b;
    p->backoff_until_ms = now_ms + backoff_ms;
}

struct cl_msg *cl_acc_expire(struct cl_acc_part *p, uint64_t now_ms,
                             uint64_t timeout_ms)
{
    struct cl_msg *out = NULL, **tail = &out;
    while (p->head != NULL && p->head->enq_ms + timeout_ms <= now_ms) {
        struct cl_msg *m = p->head;
        p->head = m->next;
        if (p->head == NULL) {
            p->tail = NULL;
        }
        p->n--;
        p->bytes -= payload(m);
        m->next = NULL;
        *tail = m;
        tail = &m->next;
    }
    return out;
}

struct cl_msg *cl_acc_purge(struct cl_acc_part *p)
{
    struct cl_msg *out = NULL, **tail = &out;
    while (p->retry != NULL) {
        struct cl_batch *b = p->retry;
        p->retry = b->next;
        *tail = b->msgs;
        if (b->msgs_tail != NULL) {
            tail = &b->msgs_tail->next;
        }
        cl_batch_free(b);
    }
    *tail = p->head;
    p->head = p->tail = NULL;
    p->n = 0;
    p->bytes = 0;
    return out;
}

void cl_batch_free(struct cl_batch *b)
{
    st_free(b);
}
