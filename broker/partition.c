/* A partition replica on this broker (see partition.h). */
#include "broker/partition.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/log/flusher.h"
#include "broker/replica_driver.h"
#include "common/alloc.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/metadata.h"

struct st_partition {
    struct st_partition_config cfg;
    char *dir, *topic;
    uint8_t topic_id[ST_META_UUID_LEN];
    struct st_log *log;
    struct st_log_flusher *flusher;
    bool leader_here;
    int32_t leader;
    int32_t leader_epoch;
    int32_t *isr;
    int n_isr;
    int64_t min_isr;
    int64_t hw;
    struct st_partition_waiter *waiters; /* unordered list */
    struct st_repl_part *rp;             /* NULL without a driver */
};

static void fail_waiters(struct st_partition *p, int status)
{
    while (p->waiters != NULL) {
        struct st_partition_waiter *w = p->waiters;
        st_partition_unwait(p, w);
        w->done(w, status);
    }
}

/* The HW rule of partition.h. The replica core replaces this. */
static void hw_update(struct st_partition *p)
{
    if (p->rp != NULL) {
        st_repl_part_appended(p->rp); /* the core decides */
        return;
    }
    if (!p->leader_here || p->n_isr != 1 || p->isr[0] != p->cfg.node_id) {
        return;
    }
    int64_t hw = st_log_durable_offset(p->log);
    if (hw <= p->hw) {
        return;
    }
    p->hw = hw;
    st_log_set_high_watermark(p->log, hw);
    struct st_partition_waiter *w = p->waiters;
    while (w != NULL) {
        struct st_partition_waiter *next = w->next;
        if (w->offset <= hw) {
            st_partition_unwait(p, w);
            w->done(w, 0);
        }
        w = next;
    }
    if (p->cfg.hw_advanced != NULL) {
        p->cfg.hw_advanced(p->cfg.arg, p);
    }
}

static void durable_cb(void *arg, int64_t durable_offset)
{
    hw_update(arg);
}

int st_partition_open(const struct st_partition_config *cfg, int64_t now_ms,
                      struct st_partition **out)
{
    struct st_partition *p = st_calloc(1, sizeof *p);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    p->cfg = *cfg;
    p->dir = st_strdup(cfg->dir);
    p->topic = st_strdup(cfg->topic);
    p->cfg.dir = p->dir;
    p->cfg.topic = p->topic;
    memcpy(p->topic_id, cfg->topic_id, ST_META_UUID_LEN);
    p->cfg.topic_id = p->topic_id;
    p->leader = -1;
    p->leader_epoch = -1;
    p->min_isr = 1;
    int rv = p->dir && p->topic ? 0 : ST_ENOMEM;
    if (rv == 0) {
        rv = st_vfs_mkdir_p(cfg->vfs, cfg->dir);
    }
    if (rv == 0) {
        rv = st_log_open(cfg->vfs, cfg->dir, &cfg->log, now_ms, &p->log);
    }
    if (rv == 0) {
        rv = st_log_flusher_new(cfg->base, cfg->jobq, p->log, cfg->lane,
                                &p->flusher);
    }
    if (rv != 0) {
        st_log_close(p->log);
        st_free(p->dir);
        st_free(p->topic);
        st_free(p);
        return rv;
    }
    int64_t hw = st_log_high_watermark(p->log);
    p->hw = hw < 0 ? 0 : hw;
    if (p->hw > st_log_end_offset(p->log)) {
        p->hw = st_log_end_offset(p->log);
    }
    st_log_set_durable_cb(p->log, durable_cb, p);
    if (cfg->repl != NULL) {
        rv = st_repl_part_new(cfg->repl, p, &p->rp);
        if (rv != 0) {
            st_log_set_durable_cb(p->log, NULL, NULL);
            st_log_flusher_free(p->flusher);
            st_log_close(p->log);
            st_free(p->dir);
            st_free(p->topic);
            st_free(p);
            return rv;
        }
    }
    ST_INFO("broker", "partition %s-%d open dir=%s start=%" PRId64
            " end=%" PRId64, p->topic, p->cfg.index, p->dir,
            st_log_start_offset(p->log), st_log_end_offset(p->log));
    *out = p;
    return 0;
}

static int remove_dir(struct st_vfs *vfs, const char *dir)
{
    char **names;
    size_t n;
    int rv = st_vfs_list(vfs, dir, &names, &n);
    if (rv != 0) {
        return rv == ST_ENOENT ? 0 : rv;
    }
    char path[4096];
    for (size_t i = 0; i < n && rv == 0; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        rv = st_vfs_unlink(vfs, path);
    }
    st_vfs_names_free(names, n);
    return rv == 0 ? st_vfs_rmdir(vfs, dir) : rv;
}

int st_partition_close(struct st_partition *p, bool remove)
{
    if (p == NULL) {
        return 0;
    }
    p->leader_here = false;
    fail_waiters(p, ST_ENOTLEADER);
    st_repl_part_free(p->rp);
    p->rp = NULL;
    st_log_set_durable_cb(p->log, NULL, NULL);
    st_log_flusher_free(p->flusher); /* drains its jobs first */
    int rv = st_log_close(p->log);
    if (remove) {
        int rv2 = remove_dir(p->cfg.vfs, p->dir);
        ST_INFO("broker", "partition %s-%d deleted dir=%s: %s", p->topic,
                p->cfg.index, p->dir, st_strerror(rv2));
        rv = rv ? rv : rv2;
    }
    st_free(p->isr);
    st_free(p->dir);
    st_free(p->topic);
    st_free(p);
    return rv;
}

void st_partition_update(struct st_partition *p,
                         const struct st_meta_partition *mp, int64_t min_isr)
{
    bool was = p->leader_here;
    p->min_isr = min_isr;
    if (mp == NULL) {
        p->leader_here = false;
        p->leader = -1;
    } else {
        p->leader = mp->leader;
        p->leader_epoch = mp->leader_epoch;
        p->leader_here = mp->leader == p->cfg.node_id;
        int32_t *isr = st_malloc((size_t)mp->n_isr * sizeof *isr + 1);
        if (isr != NULL) {
            memcpy(isr, mp->isr, (size_t)mp->n_isr * sizeof *isr);
            st_free(p->isr);
            p->isr = isr;
            p->n_isr = mp->n_isr;
        }
    }
    if (was != p->leader_here) {
        ST_INFO("broker", "partition %s-%d %s leader_epoch=%d", p->topic,
                p->cfg.index, p->leader_here ? "leading" : "not leading",
                p->leader_epoch);
    }
    if (!p->leader_here) {
        fail_waiters(p, ST_ENOTLEADER);
    }
    if (p->rp != NULL) {
        st_repl_part_changed(p->rp, mp, min_isr);
    } else if (p->leader_here) {
        hw_update(p);
    }
}

int st_partition_append(struct st_partition *p, uint8_t *buf, size_t len,
                        int64_t now_ms, struct st_log_append_info *out)
{
    if (!p->leader_here) {
        return ST_ENOTLEADER;
    }
    int rv = st_log_append(p->log, buf, len, ST_LOG_APPEND_LEADER,
                           p->leader_epoch, now_ms, out);
    if (rv == 0) {
        st_log_flusher_kick(p->flusher);
        /* Policies that count the page cache as durable advanced the
         * durable offset inside the append, before anyone waited. */
        hw_update(p);
    }
    return rv;
}

int st_partition_wait(struct st_partition *p, struct st_partition_waiter *w)
{
    w->durable = false;
    w->prev = NULL;
    w->next = p->waiters;
    if (p->waiters) {
        p->waiters->prev = w;
    }
    p->waiters = w;
    if (p->rp != NULL && st_repl_part_ack_wait(p->rp, w) != 0) {
        st_partition_unwait(p, w); /* the core does not lead (yet) */
        return ST_ENOTLEADER;
    }
    return 0;
}

void st_partition_unwait(struct st_partition *p, struct st_partition_waiter *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    } else if (p->waiters == w) {
        p->waiters = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    w->prev = w->next = NULL;
}

int st_partition_append_follower(struct st_partition *p, uint8_t *buf,
                                 size_t len, int64_t now_ms)
{
    struct st_log_append_info info;
    int rv = st_log_append(p->log, buf, len, ST_LOG_APPEND_FOLLOWER, -1,
                           now_ms, &info);
    if (rv == 0) {
        st_log_flusher_kick(p->flusher);
    }
    return rv;
}

int st_partition_truncate(struct st_partition *p, int64_t offset)
{
    st_log_flusher_drain(p->flusher);
    int rv = st_log_truncate_to(p->log, offset);
    ST_INFO("broker", "partition %s-%d truncated to %" PRId64 ": %s",
            p->topic, p->cfg.index, offset, st_strerror(rv));
    return rv;
}

int st_partition_reset(struct st_partition *p, int64_t offset,
                       int64_t now_ms)
{
    st_log_flusher_drain(p->flusher);
    int rv = st_log_truncate_full(p->log, offset, now_ms);
    ST_INFO("broker", "partition %s-%d reset to start at %" PRId64 ": %s",
            p->topic, p->cfg.index, offset, st_strerror(rv));
    return rv;
}

void st_partition_set_hw(struct st_partition *p, int64_t hw)
{
    if (hw == p->hw) {
        return;
    }
    bool grew = hw > p->hw;
    p->hw = hw;
    st_log_set_high_watermark(p->log, hw);
    if (grew && p->cfg.hw_advanced != NULL) {
        p->cfg.hw_advanced(p->cfg.arg, p);
    }
}

void st_partition_ack(struct st_partition *p, uint64_t token, int status,
                      bool durable)
{
    for (struct st_partition_waiter *w = p->waiters; w != NULL;
         w = w->next) {
        if ((uint64_t)(uintptr_t)w == token) {
            st_partition_unwait(p, w);
            w->durable = durable;
            w->done(w, status);
            return;
        }
    }
}

struct st_repl_part *st_partition_repl(struct st_partition *p)
{
    return p->rp;
}

void st_partition_housekeeping(struct st_partition *p, int64_t now_ms,
                               uint64_t now_mono_ms)
{
    const struct st_log_config *lc = st_log_config(p->log);
    if (lc->cleanup_policy & ST_LOG_CLEANUP_DELETE) {
        st_log_flusher_retention(p->flusher, now_ms, p->hw);
    }
    if (lc->cleanup_policy & ST_LOG_CLEANUP_COMPACT) {
        st_log_flusher_clean(p->flusher, now_ms, p->hw);
    }
    st_log_close_idle(p->log, now_mono_ms, 10 * 60 * 1000);
}

bool st_partition_is_leader(const struct st_partition *p)
{
    return p->leader_here;
}

int32_t st_partition_leader(const struct st_partition *p)
{
    return p->leader;
}

int32_t st_partition_leader_epoch(const struct st_partition *p)
{
    return p->leader_epoch;
}

int st_partition_isr_size(const struct st_partition *p)
{
    return p->n_isr;
}

int64_t st_partition_min_isr(const struct st_partition *p)
{
    return p->min_isr;
}

int64_t st_partition_hw(const struct st_partition *p)
{
    return p->hw;
}

const char *st_partition_topic(const struct st_partition *p)
{
    return p->topic;
}

const uint8_t *st_partition_topic_id(const struct st_partition *p)
{
    return p->topic_id;
}

int32_t st_partition_index(const struct st_partition *p)
{
    return p->cfg.index;
}

const char *st_partition_dir(const struct st_partition *p)
{
    return p->dir;
}

struct st_log *st_partition_log(struct st_partition *p)
{
    return p->log;
}
