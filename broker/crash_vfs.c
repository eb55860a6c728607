/* test.vfs=crashable: the posix vfs plus what a power loss would take away
 * (../shared/TESTING.md, "Losing power without special hardware"). For
 * each file written through it, the size it had at its last completed
 * fsync (or when first opened) is remembered; SIGUSR1 truncates every such
 * file back to that size and exits at once (_exit 137, no flush, no
 * clean-shutdown marker), as if the machine had lost power.
 *
 * What it models: the un-fsynced tail of append-only files (segments,
 * indexes) is lost. What it does not: torn or reordered overwrites inside
 * a file, and lost renames/creates (checkpoints are written as new files
 * and renamed after an fsync, so their content is either old or new).
 * Good enough to show that acks=all with log.flush.policy=batch only
 * acknowledges fsynced records; never use it in production. The
 * environment variable STRATA_CRASH_FSYNC_DELAY_MS makes every fsync
 * that much slower, so that a crash does find unsynced bytes.
 *
 * Runs on: any thread (a mutex guards the table); the crash runs on the
 * loop thread from a libevent signal event.
 */
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/alloc.h"
#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "common/vfs.h"

struct tracked {
    char *path;
    uint64_t synced;
};

struct cfile {
    struct st_file_base base;
    struct st_file *inner;
    char *path;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *table;
static size_t n_table, cap_table;
static struct st_vfs crash_vfs;
static struct event *usr1_ev;
static unsigned fsync_delay_ms; /* STRATA_CRASH_FSYNC_DELAY_MS: a slow disk */

static struct tracked *find_locked(const char *path)
{
    for (size_t i = 0; i < n_table; i++) {
        if (strcmp(table[i].path, path) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

static void track(const char *path, uint64_t size)
{
    pthread_mutex_lock(&mu);
    if (find_locked(path) == NULL) {
        if (n_table == cap_table) {
            size_t cap = cap_table ? cap_table * 2 : 64;
            struct tracked *t = realloc(table, cap * sizeof *t);
            if (t == NULL) {
                pthread_mutex_unlock(&mu);
                return;
            }
            table = t;
            cap_table = cap;
        }
        table[n_table].path = strdup(path);
        table[n_table].synced = size;
        if (table[n_table].path != NULL) {
            n_table++;
        }
    }
    pthread_mutex_unlock(&mu);
}

static void untrack(const char *path)
{
    pthread_mutex_lock(&mu);
    struct tracked *t = find_locked(path);
    if (t != NULL) {
        free(t->path);
        *t = table[--n_table];
    }
    pthread_mutex_unlock(&mu);
}

static struct st_vfs *posix(void)
{
    return st_vfs_posix();
}

static int c_open(struct st_vfs *v, const char *path, int flags,
                  struct st_file **out)
{
    struct cfile *f = st_calloc(1, sizeof *f);
    if (f == NULL) {
        return ST_ENOMEM;
    }
    int rv = posix()->ops->open(posix(), path, flags, &f->inner);
    if (rv != 0) {
        st_free(f);
        return rv;
    }
    f->base.vfs = v;
    f->path = st_strdup(path);
    uint64_t size = 0;
    st_vfs_size(f->inner, &size);
    if (!(flags & ST_VFS_RDONLY) && f->path != NULL) {
        track(path, size);
    }
    *out = (struct st_file *)(void *)f;
    return 0;
}

static int c_close(struct st_file *file)
{
    struct cfile *f = (struct cfile *)(void *)file;
    int rv = st_vfs_close(f->inner);
    st_free(f->path);
    st_free(f);
    return rv;
}

static int c_pread(struct st_file *file, void *buf, size_t len, uint64_t off,
                   size_t *n)
{
    struct cfile *f = (struct cfile *)(void *)file;
    return st_vfs_pread(f->inner, buf, len, off, n);
}

static int c_pwrite(struct st_file *file, const void *buf, size_t len,
                    uint64_t off)
{
    struct cfile *f = (struct cfile *)(void *)file;
    return st_vfs_pwrite(f->inner, buf, len, off);
}

static int c_fsync(struct st_file *file)
{
    struct cfile *f = (struct cfile *)(void *)file;
    uint64_t size = 0;
    int rv = st_vfs_size(f->inner, &size); /* what this fsync covers */
    if (fsync_delay_ms > 0) {
        /* Runs on a flush worker: appends keep arriving meanwhile, so a
         * crash finds un-fsynced bytes to drop. */
        usleep(fsync_delay_ms * 1000u);
    }
    if (rv == 0) {
        rv = st_vfs_fsync(f->inner);
    }
    if (rv == 0 && f->path != NULL) {
        pthread_mutex_lock(&mu);
        struct tracked *t = find_locked(f->path);
        if (t != NULL) {
            t->synced = size;
        }
        pthread_mutex_unlock(&mu);
    }
    return rv;
}

static int c_truncate(struct st_file *file, uint64_t size)
{
    struct cfile *f = (struct cfile *)(void *)file;
    int rv = st_vfs_truncate(f->inner, size);
    if (rv == 0 && f->path != NULL) {
        pthread_mutex_lock(&mu);
        struct tracked *t = find_locked(f->path);
        if (t != NULL && t->synced > size) {
            t->synced = size; /* a cut is made durable by its caller */
        }
        pthread_mutex_unlock(&mu);
    }
    return rv;
}

static int c_size(struct st_file *file, uint64_t *out)
{
    struct cfile *f = (struct cfile *)(void *)file;
    return st_vfs_size(f->inner, out);
}

static int c_rename(struct st_vfs *v, const char *from, const char *to)
{
    int rv = posix()->ops->rename(posix(), from, to);
    if (rv == 0) {
        /* Renamed files were fsynced by their writer: keep them whole. */
        untrack(from);
        untrack(to);
    }
    return rv;
}

static int c_unlink(struct st_vfs *v, const char *path)
{
    int rv = posix()->ops->unlink(posix(), path);
    if (rv == 0) {
        untrack(path);
    }
    return rv;
}

static int c_mkdir(struct st_vfs *v, const char *path)
{
    return posix()->ops->mkdir(posix(), path);
}

static int c_rmdir(struct st_vfs *v, const char *path)
{
    return posix()->ops->rmdir(posix(), path);
}

static int c_fsync_dir(struct st_vfs *v, const char *path)
{
    return posix()->ops->fsync_dir(posix(), path);
}

static int c_list(struct st_vfs *v, const char *dir, char ***names,
                  size_t *n)
{
    return posix()->ops->list(posix(), dir, names, n);
}

static int c_stat(struct st_vfs *v, const char *path, int *is_dir)
{
    return posix()->ops->stat(posix(), path, is_dir);
}

static int c_fd(struct st_file *file)
{
    struct cfile *f = (struct cfile *)(void *)file;
    return st_vfs_fd(f->inner);
}

static const struct st_vfs_ops crash_ops = {
    c_open, c_close, c_pread, c_pwrite, c_fsync, c_truncate, c_size,
    c_rename, c_unlink, c_mkdir, c_rmdir, c_fsync_dir, c_list, c_stat, c_fd,
};

/* Lose power: cut every tracked file to its synced size, then exit. */
static void crash_now(void)
{
    pthread_mutex_lock(&mu); /* held until exit: no fsync completes now */
    size_t cut = 0;
    for (size_t i = 0; i < n_table; i++) {
        struct stat st;
        if (stat(table[i].path, &st) == 0 &&
            (uint64_t)st.st_size > table[i].synced &&
            truncate(table[i].path, (off_t)table[i].synced) == 0) {
            cut++; /* counted only when unsynced bytes were dropped */
        }
    }
    fprintf(stderr, "crash_vfs: power loss: %zu of %zu file(s) cut back to "
            "their last fsync; exiting\n", cut, n_table);
    _exit(137);
}

static void usr1_cb(evutil_socket_t sig, short what, void *arg)
{
    crash_now();
}

struct st_vfs *st_broker_vfs(const struct st_conf *conf)
{
    if (strcmp(st_conf_str(conf, "test.vfs"), "crashable") != 0) {
        return st_vfs_posix();
    }
    const char *d = getenv("STRATA_CRASH_FSYNC_DELAY_MS");
    fsync_delay_ms = d != NULL ? (unsigned)strtoul(d, NULL, 10) : 0;
    crash_vfs.ops = &crash_ops;
    return &crash_vfs;
}

void st_broker_crash_disarm(void)
{
    if (usr1_ev != NULL) {
        event_free(usr1_ev);
        usr1_ev = NULL;
    }
}

int st_broker_crash_arm(struct event_base *base, const struct st_conf *conf)
{
    if (strcmp(st_conf_str(conf, "test.vfs"), "crashable") != 0) {
        return 0;
    }
    usr1_ev = evsignal_new(base, SIGUSR1, usr1_cb, NULL);
    if (usr1_ev == NULL || evsignal_add(usr1_ev, NULL) != 0) {
        return ST_ENOMEM;
    }
    ST_WARN("broker", "test.vfs=crashable: SIGUSR1 drops un-fsynced writes "
            "and exits (tests only)");
    return 0;
}
