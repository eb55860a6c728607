/* An in-memory file system that can lose power (tests only).
 *
 * Model (SQLite's crash VFS and ALICE's crash states, simplified):
 *
 *   file inode:  dur     the bytes as of the last successful fsync
 *                ops[]   every pwrite / truncate since, in order
 *                cur     what reads see (dur with ops[] applied)
 *   dir inode:   dur_ents  name -> inode as of the last fsync_dir of it
 *                cur_ents  name -> inode as lookups see it now
 *
 * st_vfs_mem_crash() turns each file into dur plus a prefix of its ops (all
 * or none of them in DROP_ALL mode; a random count in RANDOM mode, the last
 * kept write possibly cut to a random prefix of its bytes), so one file never
 * shows a later write without every earlier one. Each directory's names go
 * back to dur_ents. Inodes that no name reaches from "/" any more are gone.
 * Files are independent of each other and of their directory: a file fsynced
 * in a directory that was not fsynced after the create disappears, exactly
 * what Linux allows.
 *
 * A failed fsync (injected) drops the file's pending ops from the durable
 * path: reads still see them, but no later fsync makes them durable (the
 * Linux "fsyncgate" behaviour; see STYLE.md on sticky fsync errors).
 *
 * Inodes live on one list owned by the vfs and are reclaimed by mark and
 * sweep from "/" (through both namespaces) and from open handles, so an
 * unlinked file that a durable name still reaches survives until a crash
 * proves it unreachable. Memory for the model itself comes from malloc and
 * aborts when exhausted: this vfs plays the disk, and st_malloc's fault
 * injection is meant for the code under test. Lists returned to callers use
 * st_malloc like any other vfs.
 *
 * Every entry point takes one mutex, so worker threads may share the vfs.
 */
#include "vfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

#define NAME_BYTES_MAX 255
#define FILE_BYTES_MAX (1ull << 36) /* 64 GiB: far above any test */

enum op_type { OP_WRITE, OP_TRUNC };

struct op {
    enum op_type type;
    uint64_t off;  /* OP_WRITE: offset; OP_TRUNC: new size */
    size_t len;    /* OP_WRITE only */
    uint8_t *data; /* OP_WRITE only; owned */
};

struct bytes {
    uint8_t *p;
    uint64_t len, cap;
};

struct ent {
    char *name; /* owned, NUL-terminated */
    struct inode *ino;
};

struct ents {
    struct ent *v; /* sorted bytewise by name */
    size_t n, cap;
};

struct inode {
    struct inode *next; /* the vfs's list of every inode */
    bool is_dir;
    bool mark;
    unsigned n_open;
    /* files */
    struct bytes cur, dur;
    struct op *ops;
    size_t n_ops, cap_ops;
    /* directories */
    struct ents cur_ents, dur_ents;
};

struct st_file {
    struct st_file_base base;
    struct st_file *prev, *next; /* the vfs's list of open handles */
    struct inode *ino;           /* NULL once a crash invalidated it */
    bool rdonly;
};

struct fault {
    unsigned nth;
    int err;
};

struct mem_vfs {
    struct st_vfs base;
    pthread_mutex_t mu;
    uint64_t rng;
    struct inode *root;
    struct inode *inodes;
    size_t n_inodes, gc_at;
    struct st_file *files;
    uint64_t capacity, used;
    struct fault faults[3];
};

/* ---- small helpers ---- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "vfs_mem: out of memory\n");
        abort();
    }
    return q;
}

static char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static uint64_t rng_next(struct mem_vfs *m)
{
    /* splitmix64 */
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform-enough value in [0, n) (n > 0). */
static uint64_t rng_below(struct mem_vfs *m, uint64_t n)
{
    return rng_next(m) % n;
}

static struct mem_vfs *mem_of(struct st_vfs *v)
{
    return (struct mem_vfs *)(void *)v;
}

static int take_fault(struct mem_vfs *m, enum st_vfs_fault_kind kind)
{
    struct fault *f = &m->faults[kind];
    if (f->nth == 0) {
        return 0;
    }
    if (--f->nth == 0) {
        return f->err;
    }
    return 0;
}

/* ---- byte images ---- */

static void bytes_resize(struct bytes *b, uint64_t len)
{
    if (len > b->cap) {
        uint64_t cap = b->cap ? b->cap : 64;
        while (cap < len) {
            cap *= 2;
        }
        b->p = xrealloc(b->p, (size_t)cap);
        b->cap = cap;
    }
    if (len > b->len) {
        memset(b->p + b->len, 0, (size_t)(len - b->len));
    }
    b->len = len;
}

static void bytes_write(struct bytes *b, uint64_t off, const void *p,
                        size_t len)
{
    if (len == 0) {
        return;
    }
    if (off + len > b->len) {
        bytes_resize(b, off + len);
    }
    memcpy(b->p + off, p, len);
}

static void bytes_copy(struct bytes *dst, const struct bytes *src)
{
    dst->len = 0;
    bytes_resize(dst, src->len);
    if (src->len > 0) {
        memcpy(dst->p, src->p, (size_t)src->len);
    }
}

static void bytes_free(struct bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Apply @op to @b, keeping only the first @keep bytes of a write. */
static void op_apply(const struct op *op, struct bytes *b, size_t keep)
{
    if (op->type == OP_TRUNC) {
        bytes_resize(b, op->off);
    } else {
        bytes_write(b, op->off, op->data, keep);
    }
}

static void ops_clear(struct inode *ino)
{
    for (size_t i = 0; i < ino->n_ops; i++) {
        free(ino->ops[i].data);
    }
    ino->n_ops = 0;
}

static void ops_push(struct inode *ino, enum op_type type, uint64_t off,
                     const void *data, size_t len)
{
    if (ino->n_ops == ino->cap_ops) {
        ino->cap_ops = ino->cap_ops ? ino->cap_ops * 2 : 8;
        ino->ops = xrealloc(ino->ops, ino->cap_ops * sizeof *ino->ops);
    }
    struct op *op = &ino->ops[ino->n_ops++];
    op->type = type;
    op->off = off;
    op->len = len;
    op->data = NULL;
    if (type == OP_WRITE) {
        op->data = xrealloc(NULL, len);
        memcpy(op->data, data, len);
    }
}

/* ---- directory entries ---- */

static int name_cmp(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* true if found; *idx is its position or where it would go. */
static bool ents_find(const struct ents *e, const char *name, size_t len,
                      size_t *idx)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(name, len, e->v[mid].name);
        if (c == 0) {
            *idx = mid;
            return true;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    *idx = lo;
    return false;
}

static struct inode *ents_get(const struct ents *e, const char *name,
                              size_t len)
{
    size_t i;
    return ents_find(e, name, len, &i) ? e->v[i].ino : NULL;
}

static void ents_insert(struct ents *e, size_t idx, const char *name,
                        size_t len, struct inode *ino)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->v = xrealloc(e->v, e->cap * sizeof *e->v);
    }
    memmove(&e->v[idx + 1], &e->v[idx], (e->n - idx) * sizeof *e->v);
    e->v[idx].name = xstrndup(name, len);
    e->v[idx].ino = ino;
    e->n++;
}

static void ents_remove(struct ents *e, size_t idx)
{
    free(e->v[idx].name);
    memmove(&e->v[idx], &e->v[idx + 1], (e->n - idx - 1) * sizeof *e->v);
    e->n--;
}

static void ents_clear(struct ents *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].name);
    }
    e->n = 0;
}

static void ents_copy(struct ents *dst, const struct ents *src)
{
    ents_clear(dst);
    if (src->n > dst->cap) {
        dst->cap = src->n;
        dst->v = xrealloc(dst->v, dst->cap * sizeof *dst->v);
    }
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i].name = xstrndup(src->v[i].name, strlen(src->v[i].name));
        dst->v[i].ino = src->v[i].ino;
    }
    dst->n = src->n;
}

/* ---- inodes and garbage collection ---- */

static struct inode *inode_new(struct mem_vfs *m, bool is_dir)
{
    struct inode *ino = xrealloc(NULL, sizeof *ino);
    memset(ino, 0, sizeof *ino);
    ino->is_dir = is_dir;
    ino->next = m->inodes;
    m->inodes = ino;
    m->n_inodes++;
    return ino;
}

static void inode_free(struct inode *ino)
{
    bytes_free(&ino->cur);
    bytes_free(&ino->dur);
    ops_clear(ino);
    free(ino->ops);
    ents_clear(&ino->cur_ents);
    ents_clear(&ino->dur_ents);
    free(ino->cur_ents.v);
    free(ino->dur_ents.v);
    free(ino);
}

static void mark(struct inode *ino)
{
    /* Iterative over a small explicit stack: directory depth is unbounded
     * in principle and recursion would make that the C stack's problem. */
    struct inode **stack = NULL;
    size_t n = 0, cap = 0;
    if (ino->mark) {
        return;
    }
    ino->mark = true;
    stack = xrealloc(stack, (cap = 16) * sizeof *stack);
    stack[n++] = ino;
    while (n > 0) {
        struct inode *d = stack[--n];
        const struct ents *lists[2] = {&d->cur_ents, &d->dur_ents};
        for (int l = 0; l < 2; l++) {
            for (size_t i = 0; i < lists[l]->n; i++) {
                struct inode *c = lists[l]->v[i].ino;
                if (c->mark) {
                    continue;
                }
                c->mark = true;
                if (n == cap) {
                    stack = xrealloc(stack, (cap *= 2) * sizeof *stack);
                }
                stack[n++] = c;
            }
        }
    }
    free(stack);
}

static void gc(struct mem_vfs *m)
{
    for (struct inode *i = m->inodes; i != NULL; i = i->next) {
        i->mark = false;
    }
    mark(m->root);
    for (struct inode *i = m->inodes; i != NULL; i = i->next) {
        if (i->n_open > 0) {
            mark(i);
        }
    }
    size_t live = 0;
    struct inode **pp = &m->inodes;
    while (*pp != NULL) {
        struct inode *i = *pp;
        if (i->mark) {
            live++;
            pp = &i->next;
            continue;
        }
        *pp = i->next;
        m->used -= i->cur.len;
        inode_free(i);
    }
    m->n_inodes = live;
    m->gc_at = live * 2 > 64 ? live * 2 : 64;
}

static void maybe_gc(struct mem_vfs *m)
{
    if (m->n_inodes >= m->gc_at) {
        gc(m);
    }
}

/* ---- paths ---- */

/* Resolve @path. On success *ino is what it names (NULL when absent), *dir
 * the directory holding its last component (NULL for the root itself) and
 * @name and @len that component. With @avoid, descending into @avoid is
 * ST_EINVAL (renaming a directory under itself).
 * Errors: ST_ENOENT (a parent is missing), -ENOTDIR (a parent is a file),
 * ST_EINVAL ("..", or @avoid), -ENAMETOOLONG. */
static int walk(struct mem_vfs *m, const char *path, const struct inode *avoid,
                struct inode **dir, const char **name, size_t *len,
                struct inode **ino)
{
    struct inode *d = m->root;
    const char *p = path, *c = NULL;
    size_t clen = 0;
    for (;;) {
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const char *s = p;
        while (*p != '\0' && *p != '/') {
            p++;
        }
        size_t l = (size_t)(p - s);
        if (l == 1 && s[0] == '.') {
            continue;
        }
        if (l == 2 && s[0] == '.' && s[1] == '.') {
            return ST_EINVAL;
        }
        if (l > NAME_BYTES_MAX) {
            return -ENAMETOOLONG;
        }
        if (c != NULL) {
            struct inode *x = ents_get(&d->cur_ents, c, clen);
            if (x == NULL) {
                return ST_ENOENT;
            }
            if (!x->is_dir) {
                return -ENOTDIR;
            }
            d = x;
        }
        if (d == avoid) {
            return ST_EINVAL;
        }
        c = s;
        clen = l;
    }
    if (c == NULL) {
        *dir = NULL;
        *name = "";
        *len = 0;
        *ino = m->root;
        return 0;
    }
    *dir = d;
    *name = c;
    *len = clen;
    *ino = ents_get(&d->cur_ents, c, clen);
    return 0;
}

/* ---- file handles ---- */

static int mem_open(struct st_vfs *v, const char *path, int flags,
                    struct st_file **out)
{
    struct mem_vfs *m = mem_of(v);
    struct inode *dir, *ino;
    const char *name;
    size_t len;
    pthread_mutex_lock(&m->mu);
    int rv = take_fault(m, ST_VFS_FAULT_OPEN);
    if (rv != 0) {
        goto out;
    }
    rv = walk(m, path, NULL, &dir, &name, &len, &ino);
    if (rv != 0) {
        goto out;
    }
    if (ino != NULL && ino->is_dir) {
        rv = -EISDIR;
        goto out;
    }
    if (ino != NULL && (flags & ST_VFS_CREATE) && (flags & ST_VFS_EXCL)) {
        rv = ST_EEXIST;
        goto out;
    }
    if (ino == NULL && !(flags & ST_VFS_CREATE)) {
        rv = ST_ENOENT;
        goto out;
    }
    struct st_file *f = st_malloc(sizeof *f);
    if (f == NULL) {
        rv = ST_ENOMEM;
        goto out;
    }
    if (ino == NULL) {
        size_t idx;
        ino = inode_new(m, false);
        (void)ents_find(&dir->cur_ents, name, len, &idx);
        ents_insert(&dir->cur_ents, idx, name, len, ino);
    }
    if ((flags & ST_VFS_TRUNC) && ino->cur.len > 0) {
        m->used -= ino->cur.len;
        bytes_resize(&ino->cur, 0);
        ops_push(ino, OP_TRUNC, 0, NULL, 0);
    }
    f->base.vfs = v;
    f->ino = ino;
    f->rdonly = (flags & ST_VFS_RDONLY) != 0;
    f->prev = NULL;
    f->next = m->files;
    if (m->files != NULL) {
        m->files->prev = f;
    }
    m->files = f;
    ino->n_open++;
    *out = f;
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_close(struct st_file *f)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    pthread_mutex_lock(&m->mu);
    if (f->ino != NULL) {
        f->ino->n_open--;
    }
    if (f->prev != NULL) {
        f->prev->next = f->next;
    } else {
        m->files = f->next;
    }
    if (f->next != NULL) {
        f->next->prev = f->prev;
    }
    st_free(f);
    maybe_gc(m);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int mem_pread(struct st_file *f, void *buf, size_t len, uint64_t off,
                     size_t *n_read)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    int rv = 0;
    pthread_mutex_lock(&m->mu);
    if (f->ino == NULL) {
        rv = ST_EIO;
        goto out;
    }
    const struct bytes *b = &f->ino->cur;
    size_t n = 0;
    if (off < b->len) {
        uint64_t avail = b->len - off;
        n = avail < len ? (size_t)avail : len;
        memcpy(buf, b->p + off, n);
    }
    *n_read = n;
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

/* Whether growing the total by @grow bytes fits the capacity. */
static bool fits(struct mem_vfs *m, uint64_t grow)
{
    if (m->capacity == 0 || m->used + grow <= m->capacity) {
        return true;
    }
    gc(m); /* unlinked files may still be counted */
    return m->used + grow <= m->capacity;
}

static int mem_pwrite(struct st_file *f, const void *buf, size_t len,
                      uint64_t off)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    int rv = 0;
    pthread_mutex_lock(&m->mu);
    if (f->ino == NULL) {
        rv = ST_EIO;
        goto out;
    }
    if (f->rdonly) {
        rv = -EBADF;
        goto out;
    }
    rv = take_fault(m, ST_VFS_FAULT_WRITE);
    if (rv != 0 || len == 0) {
        goto out;
    }
    if (off > FILE_BYTES_MAX || len > FILE_BYTES_MAX - off) {
        rv = -EFBIG;
        goto out;
    }
    struct inode *ino = f->ino;
    uint64_t end = off + len;
    uint64_t grow = end > ino->cur.len ? end - ino->cur.len : 0;
    if (!fits(m, grow)) {
        rv = ST_ENOSPC;
        goto out;
    }
    bytes_write(&ino->cur, off, buf, len);
    ops_push(ino, OP_WRITE, off, buf, len);
    m->used += grow;
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_fsync(struct st_file *f)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    int rv = 0;
    pthread_mutex_lock(&m->mu);
    if (f->ino == NULL) {
        rv = ST_EIO;
        goto out;
    }
    struct inode *ino = f->ino;
    rv = take_fault(m, ST_VFS_FAULT_FSYNC);
    if (rv == 0) {
        for (size_t i = 0; i < ino->n_ops; i++) {
            op_apply(&ino->ops[i], &ino->dur, ino->ops[i].len);
        }
    }
    /* On failure the pending ops are dropped too: see the top comment. */
    ops_clear(ino);
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_truncate(struct st_file *f, uint64_t size)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    int rv = 0;
    pthread_mutex_lock(&m->mu);
    if (f->ino == NULL) {
        rv = ST_EIO;
        goto out;
    }
    if (f->rdonly) {
        rv = -EBADF;
        goto out;
    }
    if (size > FILE_BYTES_MAX) {
        rv = -EFBIG;
        goto out;
    }
    struct inode *ino = f->ino;
    if (size > ino->cur.len && !fits(m, size - ino->cur.len)) {
        rv = ST_ENOSPC;
        goto out;
    }
    m->used = m->used - ino->cur.len + size;
    bytes_resize(&ino->cur, size);
    ops_push(ino, OP_TRUNC, size, NULL, 0);
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_size(struct st_file *f, uint64_t *out)
{
    struct mem_vfs *m = mem_of(f->base.vfs);
    int rv = 0;
    pthread_mutex_lock(&m->mu);
    if (f->ino == NULL) {
        rv = ST_EIO;
    } else {
        *out = f->ino->cur.len;
    }
    pthread_mutex_unlock(&m->mu);
    return rv;
}

/* ---- names ---- */

static int do_rename(struct mem_vfs *m, const char *from, const char *to)
{
    struct inode *fdir, *fino, *tdir, *tino;
    const char *fname, *tname;
    size_t flen, tlen, idx;
    int rv = walk(m, from, NULL, &fdir, &fname, &flen, &fino);
    if (rv != 0) {
        return rv;
    }
    if (fino == NULL) {
        return ST_ENOENT;
    }
    if (fdir == NULL) {
        return -EBUSY; /* the root */
    }
    rv = walk(m, to, fino->is_dir ? fino : NULL, &tdir, &tname, &tlen, &tino);
    if (rv != 0) {
        return rv;
    }
    if (tdir == NULL) {
        return -EBUSY;
    }
    if (tino == fino) {
        return 0; /* POSIX: same file, nothing to do */
    }
    if (tino != NULL) {
        if (tino->is_dir && !fino->is_dir) {
            return -EISDIR;
        }
        if (!tino->is_dir && fino->is_dir) {
            return -ENOTDIR;
        }
        if (tino->is_dir && tino->cur_ents.n > 0) {
            return -ENOTEMPTY;
        }
    }
    if (ents_find(&tdir->cur_ents, tname, tlen, &idx)) {
        tdir->cur_ents.v[idx].ino = fino;
    } else {
        ents_insert(&tdir->cur_ents, idx, tname, tlen, fino);
    }
    if (ents_find(&fdir->cur_ents, fname, flen, &idx)) {
        ents_remove(&fdir->cur_ents, idx);
    }
    return 0;
}

static int mem_rename(struct st_vfs *v, const char *from, const char *to)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    int rv = do_rename(m, from, to);
    maybe_gc(m);
    pthread_mutex_unlock(&m->mu);
    return rv;
}

/* Remove @path, a directory when @want_dir, else a file. */
static int do_remove(struct mem_vfs *m, const char *path, bool want_dir)
{
    struct inode *dir, *ino;
    const char *name;
    size_t len, idx;
    int rv = walk(m, path, NULL, &dir, &name, &len, &ino);
    if (rv != 0) {
        return rv;
    }
    if (ino == NULL) {
        return ST_ENOENT;
    }
    if (dir == NULL) {
        return want_dir ? -EBUSY : -EISDIR;
    }
    if (want_dir && !ino->is_dir) {
        return -ENOTDIR;
    }
    if (!want_dir && ino->is_dir) {
        return -EISDIR;
    }
    if (want_dir && ino->cur_ents.n > 0) {
        return -ENOTEMPTY;
    }
    (void)ents_find(&dir->cur_ents, name, len, &idx);
    ents_remove(&dir->cur_ents, idx);
    maybe_gc(m);
    return 0;
}

static int mem_unlink(struct st_vfs *v, const char *path)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    int rv = do_remove(m, path, false);
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_rmdir(struct st_vfs *v, const char *path)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    int rv = do_remove(m, path, true);
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_mkdir(struct st_vfs *v, const char *path)
{
    struct mem_vfs *m = mem_of(v);
    struct inode *dir, *ino;
    const char *name;
    size_t len, idx;
    pthread_mutex_lock(&m->mu);
    int rv = walk(m, path, NULL, &dir, &name, &len, &ino);
    if (rv == 0 && ino != NULL) {
        rv = ST_EEXIST;
    }
    if (rv == 0) {
        (void)ents_find(&dir->cur_ents, name, len, &idx);
        ents_insert(&dir->cur_ents, idx, name, len, inode_new(m, true));
    }
    pthread_mutex_unlock(&m->mu);
    return rv;
}

/* Look up @path as a directory. */
static int find_dir(struct mem_vfs *m, const char *path, struct inode **out)
{
    struct inode *dir, *ino;
    const char *name;
    size_t len;
    int rv = walk(m, path, NULL, &dir, &name, &len, &ino);
    if (rv != 0) {
        return rv;
    }
    if (ino == NULL) {
        return ST_ENOENT;
    }
    if (!ino->is_dir) {
        return -ENOTDIR;
    }
    *out = ino;
    return 0;
}

static int mem_fsync_dir(struct st_vfs *v, const char *path)
{
    struct mem_vfs *m = mem_of(v);
    struct inode *d;
    pthread_mutex_lock(&m->mu);
    int rv = find_dir(m, path, &d);
    if (rv == 0) {
        rv = take_fault(m, ST_VFS_FAULT_FSYNC);
    }
    if (rv == 0) {
        ents_copy(&d->dur_ents, &d->cur_ents);
        maybe_gc(m);
    }
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_list(struct st_vfs *v, const char *path, char ***names,
                    size_t *n)
{
    struct mem_vfs *m = mem_of(v);
    struct inode *d;
    char **arr = NULL;
    size_t i = 0;
    pthread_mutex_lock(&m->mu);
    int rv = find_dir(m, path, &d);
    if (rv != 0) {
        goto out;
    }
    arr = st_malloc((d->cur_ents.n ? d->cur_ents.n : 1) * sizeof *arr);
    if (arr == NULL) {
        rv = ST_ENOMEM;
        goto out;
    }
    for (i = 0; i < d->cur_ents.n; i++) {
        arr[i] = st_strdup(d->cur_ents.v[i].name);
        if (arr[i] == NULL) {
            st_vfs_names_free(arr, i);
            rv = ST_ENOMEM;
            goto out;
        }
    }
    *names = arr;
    *n = i;
out:
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static int mem_stat(struct st_vfs *v, const char *path, int *is_dir)
{
    struct mem_vfs *m = mem_of(v);
    struct inode *dir, *ino;
    const char *name;
    size_t len;
    pthread_mutex_lock(&m->mu);
    int rv = walk(m, path, NULL, &dir, &name, &len, &ino);
    if (rv == 0 && ino == NULL) {
        rv = ST_ENOENT;
    }
    if (rv == 0 && is_dir != NULL) {
        *is_dir = ino->is_dir ? 1 : 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rv;
}

static const struct st_vfs_ops mem_ops = {
    .open = mem_open,
    .close = mem_close,
    .pread = mem_pread,
    .pwrite = mem_pwrite,
    .fsync = mem_fsync,
    .truncate = mem_truncate,
    .size = mem_size,
    .rename = mem_rename,
    .unlink = mem_unlink,
    .mkdir = mem_mkdir,
    .rmdir = mem_rmdir,
    .fsync_dir = mem_fsync_dir,
    .list = mem_list,
    .stat = mem_stat,
    .fd = NULL,
};

/* ---- lifetime, crash and faults ---- */

int st_vfs_mem_new(uint64_t seed, struct st_vfs **out)
{
    struct mem_vfs *m = st_malloc(sizeof *m);
    if (m == NULL) {
        return ST_ENOMEM;
    }
    memset(m, 0, sizeof *m);
    m->base.ops = &mem_ops;
    m->rng = seed;
    m->gc_at = 64;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        st_free(m);
        return ST_ENOMEM;
    }
    m->root = inode_new(m, true);
    *out = &m->base;
    return 0;
}

void st_vfs_mem_free(struct st_vfs *v)
{
    if (v == NULL) {
        return;
    }
    struct mem_vfs *m = mem_of(v);
    while (m->files != NULL) {
        struct st_file *f = m->files;
        m->files = f->next;
        st_free(f);
    }
    while (m->inodes != NULL) {
        struct inode *i = m->inodes;
        m->inodes = i->next;
        inode_free(i);
    }
    pthread_mutex_destroy(&m->mu);
    st_free(m);
}

/* The file's contents after power loss: dur plus a prefix of its ops. */
static void crash_file(struct mem_vfs *m, struct inode *ino,
                       enum st_vfs_crash_mode mode)
{
    size_t keep = 0;
    if (mode == ST_VFS_CRASH_RANDOM && ino->n_ops > 0) {
        keep = (size_t)rng_below(m, ino->n_ops + 1);
    }
    for (size_t i = 0; i < keep; i++) {
        const struct op *op = &ino->ops[i];
        size_t bytes = op->len;
        if (i + 1 == keep && op->type == OP_WRITE && rng_below(m, 2) == 0) {
            bytes = (size_t)rng_below(m, op->len); /* torn: a prefix */
        }
        op_apply(op, &ino->dur, bytes);
    }
    ops_clear(ino);
    bytes_copy(&ino->cur, &ino->dur);
}

void st_vfs_mem_crash(struct st_vfs *v, enum st_vfs_crash_mode mode)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    for (struct st_file *f = m->files; f != NULL; f = f->next) {
        f->ino = NULL;
    }
    for (struct inode *i = m->inodes; i != NULL; i = i->next) {
        i->n_open = 0;
    }
    gc(m); /* so that garbage draws no random numbers */
    /* Oldest inode first, so the random draws do not depend on how many
     * inodes the garbage collector happened to have reclaimed. */
    size_t n = 0;
    struct inode **all = xrealloc(NULL, m->n_inodes * sizeof *all);
    for (struct inode *i = m->inodes; i != NULL; i = i->next) {
        all[n++] = i;
    }
    m->used = 0;
    for (size_t k = n; k-- > 0;) {
        struct inode *i = all[k];
        if (i->is_dir) {
            ents_copy(&i->cur_ents, &i->dur_ents);
        } else {
            crash_file(m, i, mode);
            m->used += i->cur.len;
        }
    }
    free(all);
    gc(m);
    pthread_mutex_unlock(&m->mu);
}

void st_vfs_mem_fail_nth(struct st_vfs *v, enum st_vfs_fault_kind kind,
                         unsigned nth, int err)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    m->faults[kind].nth = nth;
    m->faults[kind].err = err;
    pthread_mutex_unlock(&m->mu);
}

void st_vfs_mem_set_capacity(struct st_vfs *v, uint64_t bytes)
{
    struct mem_vfs *m = mem_of(v);
    pthread_mutex_lock(&m->mu);
    m->capacity = bytes;
    pthread_mutex_unlock(&m->mu);
}
