/* The deciding side's shared parts: the record list, errors, the PRNG, and
 * the partition repair behind every leader election. */
#include "controller/decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/decide_int.h"

void st_meta_recs_init(struct st_meta_recs *r)
{
    memset(r, 0, sizeof *r);
}

void st_meta_recs_close(struct st_meta_recs *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        st_buf_close(&r->v[i]);
    }
    st_free(r->v);
    st_meta_recs_init(r);
}

uint64_t st_meta_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int stdec_push(struct st_meta_recs *out, const Strata__Meta__MetadataRecord *r)
{
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 4;
        struct st_buf *v = st_realloc(out->v, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        out->v = v;
        out->cap = cap;
    }
    struct st_buf *b = &out->v[out->n];
    st_buf_init(b);
    size_t size = strata__meta__metadata_record__get_packed_size(r);
    if (st_buf_reserve(b, size) != 0) {
        return ST_ENOMEM;
    }
    b->len = strata__meta__metadata_record__pack(r, b->base);
    out->n++;
    return 0;
}

int stdec_fail(struct st_meta_err *err, int rv, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return rv;
}

void stdec_ok(struct st_meta_err *err)
{
    if (err != NULL) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const struct st_meta_broker *stdec_broker(const struct st_meta *m, int32_t id,
                                          int64_t epoch, int *rv,
                                          struct st_meta_err *err)
{
    const struct st_meta_broker *b = st_meta_broker_find(m, id);
    if (b == NULL) {
        *rv = stdec_fail(err, ST_ENOENT, STRATA__ERROR_CODE__STALE_BROKER_EPOCH,
                         "broker %d is not registered", (int)id);
        return NULL;
    }
    if (b->epoch != epoch) {
        *rv = stdec_fail(err, ST_ESTALE, STRATA__ERROR_CODE__STALE_BROKER_EPOCH,
                         "broker %d: epoch %lld is not the current %lld",
                         (int)id, (long long)epoch, (long long)b->epoch);
        return NULL;
    }
    *rv = 0;
    return b;
}

/* ---- repair ---- */

static bool has(const int32_t *v, size_t n, int32_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

static bool live(const struct st_meta *m, const struct stdec_live *lv,
                 int32_t id)
{
    if (has(lv->alive, lv->n_alive, id)) {
        return true;
    }
    if (has(lv->dead, lv->n_dead, id)) {
        return false;
    }
    const struct st_meta_broker *b = st_meta_broker_find(m, id);
    return b != NULL && !b->fenced;
}

static int repair_partition(const struct st_meta *m,
                            const struct stdec_live *lv,
                            const struct st_meta_topic *t, int32_t pi,
                            bool unclean, int32_t *isr,
                            struct st_meta_recs *out)
{
    const struct st_meta_partition *p = &t->parts[pi];
    if (p->partition_epoch == INT32_MAX || p->leader_epoch == INT32_MAX) {
        return 0; /* epochs exhausted: the record would be refused */
    }
    int n_isr = 0;
    for (int i = 0; i < p->n_isr; i++) {
        if (live(m, lv, p->isr[i])) {
            isr[n_isr++] = p->isr[i];
        }
    }
    int32_t leader = -1;
    if (n_isr > 0) {
        if (p->leader != -1 && has(isr, (size_t)n_isr, p->leader)) {
            leader = p->leader;
        } else {
            for (int i = 0; i < p->n_replicas && leader == -1; i++) {
                if (has(isr, (size_t)n_isr, p->replicas[i])) {
                    leader = p->replicas[i];
                }
            }
        }
    } else {
        /* No live ISR member: keep the ISR (each member holds every
         * acknowledged record) unless unclean election may pick any live
         * replica. */
        memcpy(isr, p->isr, (size_t)p->n_isr * sizeof *isr);
        n_isr = p->n_isr;
        for (int i = 0; unclean && i < p->n_replicas; i++) {
            if (live(m, lv, p->replicas[i])) {
                leader = p->replicas[i];
                isr[0] = leader;
                n_isr = 1;
                break;
            }
        }
    }
    bool isr_changed = n_isr != p->n_isr ||
                       memcmp(isr, p->isr, (size_t)n_isr * sizeof *isr) != 0;
    if (!isr_changed && leader == p->leader) {
        return 0;
    }
    Strata__Meta__PartitionChange pc = STRATA__META__PARTITION_CHANGE__INIT;
    pc.topic_id.data = (uint8_t *)t->id;
    pc.topic_id.len = ST_META_UUID_LEN;
    pc.partition = pi;
    pc.has_leader = leader != p->leader;
    pc.leader = leader;
    pc.has_isr = isr_changed;
    pc.isr = isr;
    pc.n_isr = isr_changed ? (size_t)n_isr : 0;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_PARTITION_CHANGE;
    r.partition_change = &pc;
    return stdec_push(out, &r);
}

int stdec_repair(const struct st_meta *m, const struct stdec_live *lv,
                 struct st_meta_recs *out)
{
    int32_t isr_buf[INT16_MAX];
    for (size_t i = 0; i < st_meta_topic_count(m); i++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, i);
        const char *u =
            st_meta_topic_config(m, t->name, "unclean.leader.election.enable");
        bool unclean = u != NULL && strcmp(u, "true") == 0;
        if (lv->unclean_topic != NULL &&
            strcmp(lv->unclean_topic, t->name) == 0) {
            unclean = lv->unclean_value;
        }
        for (int32_t p = 0; p < t->n_parts; p++) {
            int rv = repair_partition(m, lv, t, p, unclean, isr_buf, out);
            if (rv != 0) {
                return rv;
            }
        }
    }
    return 0;
}

int st_meta_decide_elect_leaders(const struct st_meta *m,
                                 struct st_meta_recs *out)
{
    struct stdec_live lv = {0};
    return stdec_repair(m, &lv, out);
}
