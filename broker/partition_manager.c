/* Hosted partitions kept in step with the metadata (see
 * partition_manager.h). Partitions sit in one array; lookups scan it,
 * which is fine for the hundreds of partitions a broker hosts here (a hash
 * index is the obvious next step when that grows). */
#include "broker/partition_manager.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/partition.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"
#include "controller/metadata.h"

#define PART_META_FILE "partition.metadata"

struct st_pm {
    struct st_pm_config cfg;
    char *dirs[ST_BROKER_LOG_DIRS_MAX];
    int n_dirs;
    size_t *dir_load;            /* partitions per dir */
    struct st_partition **v;
    size_t n, cap;
    uint64_t next_lane;
    bool swept;                  /* stale dirs removed once */
};

int st_pm_new(const struct st_pm_config *cfg, struct st_pm **out)
{
    struct st_pm *pm = st_calloc(1, sizeof *pm);
    if (pm == NULL) {
        return ST_ENOMEM;
    }
    pm->cfg = *cfg;
    int n = st_broker_log_dirs(cfg->conf, pm->dirs);
    if (n < 0) {
        st_free(pm);
        return n;
    }
    pm->n_dirs = n;
    pm->dir_load = st_calloc((size_t)n, sizeof *pm->dir_load);
    if (pm->dir_load == NULL) {
        st_pm_free(pm);
        return ST_ENOMEM;
    }
    *out = pm;
    return 0;
}

void st_pm_free(struct st_pm *pm)
{
    if (pm == NULL) {
        return;
    }
    for (size_t i = 0; i < pm->n; i++) {
        int rv = st_partition_close(pm->v[i], false);
        if (rv != 0) {
            ST_ERROR("broker", "closing a partition: %s", st_strerror(rv));
        }
    }
    st_free(pm->v);
    st_free(pm->dir_load);
    st_broker_log_dirs_free(pm->dirs, pm->n_dirs);
    st_free(pm);
}

struct st_partition *st_pm_find(struct st_pm *pm, const char *topic,
                                int32_t index)
{
    for (size_t i = 0; i < pm->n; i++) {
        struct st_partition *p = pm->v[i];
        if (st_partition_index(p) == index &&
            strcmp(st_partition_topic(p), topic) == 0) {
            return p;
        }
    }
    return NULL;
}

void st_pm_foreach(struct st_pm *pm,
                   void (*fn)(void *arg, struct st_partition *p), void *arg)
{
    for (size_t i = 0; i < pm->n; i++) {
        fn(arg, pm->v[i]);
    }
}

size_t st_pm_count(const struct st_pm *pm)
{
    return pm->n;
}

static void id_hex(const uint8_t *id, char out[33])
{
    for (int i = 0; i < ST_META_UUID_LEN; i++) {
        snprintf(out + 2 * i, 3, "%02x", id[i]);
    }
}

/* The topic id recorded in @dir: 0, ST_ENOENT (none), ST_ECORRUPT. */
static int dir_topic_id(struct st_vfs *vfs, const char *dir, char out[33])
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, PART_META_FILE);
    uint8_t *buf;
    size_t len;
    int rv = st_vfs_read_all(vfs, path, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = ST_ECORRUPT;
    if (len >= 9 + 32 && memcmp(buf, "topic_id=", 9) == 0) {
        memcpy(out, buf + 9, 32);
        out[32] = '\0';
        rv = 0;
    }
    st_free(buf);
    return rv;
}

static int remove_tree(struct st_vfs *vfs, const char *dir)
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

/* Choose the directory for topic/index: where it already is (same topic
 * id), else the least loaded log dir. A directory of an older topic with
 * the same name is removed. Returns the dir index. */
static int place(struct st_pm *pm, const char *name, const uint8_t *id,
                 char *path, size_t cap)
{
    char want[33], have[33];
    id_hex(id, want);
    int best = 0;
    for (int d = 0; d < pm->n_dirs; d++) {
        snprintf(path, cap, "%s/%s", pm->dirs[d], name);
        int rv = dir_topic_id(pm->cfg.vfs, path, have);
        if (rv == 0 && strcmp(have, want) == 0) {
            return d;
        }
        if (rv != ST_ENOENT || st_vfs_stat(pm->cfg.vfs, path, NULL) == 0) {
            ST_WARN("broker", "removing %s: it belongs to topic id %s, "
                    "not %s", path, rv == 0 ? have : "?", want);
            remove_tree(pm->cfg.vfs, path);
        }
        if (pm->dir_load[d] < pm->dir_load[best]) {
            best = d;
        }
    }
    snprintf(path, cap, "%s/%s", pm->dirs[best], name);
    return best;
}

static void topic_log_config(const struct st_pm *pm, const struct st_meta *m,
                             const char *topic, struct st_log_config *lc,
                             int64_t *min_isr)
{
    static const char *keys[] = {"segment.bytes", "segment.ms",
                                 "retention.ms", "retention.bytes",
                                 "max.message.bytes", "cleanup.policy",
                                 "delete.retention.ms", "min.insync.replicas"};
    st_broker_log_config(pm->cfg.conf, lc);
    *min_isr = st_conf_int(pm->cfg.conf, "min.insync.replicas");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = st_meta_config_get(m, ST_META_RES_TOPIC, topic,
                                           keys[k]);
        if (v == NULL) {
            v = st_meta_config_get(m, ST_META_RES_CLUSTER, "", keys[k]);
        }
        if (v == NULL) {
            continue;
        }
        if (strcmp(keys[k], "min.insync.replicas") == 0) {
            *min_isr = strtoll(v, NULL, 10);
        } else if (st_broker_log_config_set(lc, keys[k], v) < 0) {
            ST_WARN("broker", "topic %s: bad %s '%s' ignored", topic, keys[k],
                    v);
        }
    }
}

static bool hosts(const struct st_meta_partition *mp, int32_t node)
{
    for (int i = 0; i < mp->n_replicas; i++) {
        if (mp->replicas[i] == node) {
            return true;
        }
    }
    return false;
}

static int add(struct st_pm *pm, struct st_partition *p)
{
    if (pm->n == pm->cap) {
        size_t cap = pm->cap ? pm->cap * 2 : 16;
        struct st_partition **v = st_realloc(pm->v, cap * sizeof *v);
        if (v == NULL) {
            return ST_ENOMEM;
        }
        pm->v = v;
        pm->cap = cap;
    }
    pm->v[pm->n++] = p;
    return 0;
}

static int open_partition(struct st_pm *pm, const struct st_meta *m,
                          const struct st_meta_topic *t, int32_t index,
                          struct st_partition **out)
{
    char name[512], dir[4096], hex[33];
    snprintf(name, sizeof name, "%s-%d", t->name, index);
    int d = place(pm, name, t->id, dir, sizeof dir);
    struct st_partition_config pc = {0};
    pc.base = pm->cfg.base;
    pc.jobq = pm->cfg.jobq;
    pc.vfs = pm->cfg.vfs;
    pc.dir = dir;
    pc.topic = t->name;
    pc.topic_id = t->id;
    pc.index = index;
    pc.node_id = pm->cfg.node_id;
    pc.lane = pm->next_lane++;
    pc.hw_advanced = pm->cfg.hw_advanced;
    pc.arg = pm->cfg.arg;
    pc.repl = pm->cfg.repl;
    int64_t min_isr;
    topic_log_config(pm, m, t->name, &pc.log, &min_isr);
    int rv = st_partition_open(&pc, st_wall_ms(st_clock_real()), out);
    if (rv != 0) {
        return rv;
    }
    char path[4200], text[64];
    snprintf(path, sizeof path, "%s/%s", dir, PART_META_FILE);
    id_hex(t->id, hex);
    int len = snprintf(text, sizeof text, "topic_id=%s\n", hex);
    if (st_vfs_stat(pm->cfg.vfs, path, NULL) != 0) {
        rv = st_vfs_write_atomic(pm->cfg.vfs, path, text, (size_t)len);
    }
    if (rv == 0) {
        rv = add(pm, *out);
    }
    if (rv != 0) {
        st_partition_close(*out, false);
        return rv;
    }
    pm->dir_load[d]++;
    return 0;
}

/* Remove log dirs of partitions the metadata does not place here. */
static void sweep(struct st_pm *pm)
{
    for (int d = 0; d < pm->n_dirs; d++) {
        char **names;
        size_t n;
        if (st_vfs_list(pm->cfg.vfs, pm->dirs[d], &names, &n) != 0) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            char path[4096], hex[33];
            snprintf(path, sizeof path, "%s/%s", pm->dirs[d], names[i]);
            if (dir_topic_id(pm->cfg.vfs, path, hex) != 0) {
                continue; /* not a partition dir (meta.properties...) */
            }
            bool live = false;
            for (size_t k = 0; k < pm->n && !live; k++) {
                live = strcmp(st_partition_dir(pm->v[k]), path) == 0;
            }
            if (!live) {
                ST_INFO("broker", "removing %s: its topic is gone", path);
                remove_tree(pm->cfg.vfs, path);
            }
        }
        st_vfs_names_free(names, n);
    }
}

/* Whether the metadata still places @p here (same topic id). */
static bool placed_here(const struct st_pm *pm, const struct st_meta *m,
                        const struct st_partition *p)
{
    const struct st_meta_topic *t = st_meta_topic_by_name(
        m, st_partition_topic(p));
    int32_t i = st_partition_index(p);
    return t != NULL &&
           memcmp(t->id, st_partition_topic_id(p), ST_META_UUID_LEN) == 0 &&
           i < t->n_parts && hosts(&t->parts[i], pm->cfg.node_id);
}

int st_pm_reconcile(struct st_pm *pm, const struct st_meta *m,
                    bool caught_up)
{
    /* First drop what the metadata no longer places here: stop serving at
     * once; delete only once caught up (an old snapshot must not delete
     * data at start-up). This also frees the name of a deleted topic for a
     * new topic of the same name, opened below. */
    for (size_t i = 0; i < pm->n;) {
        if (placed_here(pm, m, pm->v[i])) {
            i++;
            continue;
        }
        st_partition_update(pm->v[i], NULL, 1);
        if (!caught_up) {
            i++;
            continue;
        }
        st_partition_close(pm->v[i], true);
        pm->v[i] = pm->v[pm->n - 1];
        pm->n--;
    }
    int failed = 0;
    for (size_t ti = 0; ti < st_meta_topic_count(m); ti++) {
        const struct st_meta_topic *t = st_meta_topic_at(m, ti);
        for (int32_t pi = 0; pi < t->n_parts; pi++) {
            const struct st_meta_partition *mp = &t->parts[pi];
            if (!hosts(mp, pm->cfg.node_id)) {
                continue;
            }
            struct st_partition *p = st_pm_find(pm, t->name, pi);
            if (p != NULL &&
                memcmp(st_partition_topic_id(p), t->id, ST_META_UUID_LEN)) {
                continue; /* an old topic of that name, deleted later */
            }
            if (p == NULL) {
                int rv = open_partition(pm, m, t, pi, &p);
                if (rv != 0) {
                    ST_ERROR("broker", "partition %s-%d cannot open: %s",
                             t->name, pi, st_strerror(rv));
                    failed++;
                    continue;
                }
            }
            struct st_log_config lc;
            int64_t min_isr;
            topic_log_config(pm, m, t->name, &lc, &min_isr);
            st_partition_update(p, mp, min_isr);
        }
    }
    if (caught_up && !pm->swept) {
        pm->swept = true;
        sweep(pm);
    }
    return failed;
}
