/* The file system as an interface, so tests can lose power.
 *
 * Every byte strata keeps on disk (Raft log, partition logs, checkpoints)
 * goes through a struct st_vfs. Production uses st_vfs_posix(); tests use
 * st_vfs_mem_new(), an in-memory file system that remembers what was last
 * made durable and can "crash" into any state a real power loss could leave:
 *
 *   - file contents: the image at the last fsync of that file plus a prefix
 *     of the writes since (the last kept write possibly torn);
 *   - names: a create, rename or unlink is durable only once the parent
 *     directory has been fsynced (st_vfs_fsync_dir) after it.
 *
 * Paths are plain strings; the mem vfs treats them as exact keys after
 * collapsing repeated '/'. Directories must exist before files in them.
 * All functions return 0 or a negative ST_E* code (negated errno for OS
 * failures: ST_ENOENT, ST_EEXIST, ST_EIO, ST_ENOSPC...).
 * Runs on: any thread, but one st_file must not be used by two threads at
 * once. The mem vfs is internally locked.
 */
#ifndef ST_VFS_H
#define ST_VFS_H

#include <stddef.h>
#include <stdint.h>

struct st_vfs;
struct st_file; /* an open file; belongs to the vfs that opened it */

enum {
    ST_VFS_CREATE = 1 << 0, /* create if missing */
    ST_VFS_EXCL = 1 << 1,   /* with CREATE: fail ST_EEXIST if it exists */
    ST_VFS_TRUNC = 1 << 2,  /* truncate to 0 on open */
    ST_VFS_RDONLY = 1 << 3, /* no writes through this handle */
};

struct st_vfs_ops {
    int (*open)(struct st_vfs *v, const char *path, int flags,
                struct st_file **out);
    int (*close)(struct st_file *f);
    /* Read up to @len bytes at @off; *n_read < len only at end of file. */
    int (*pread)(struct st_file *f, void *buf, size_t len, uint64_t off,
                 size_t *n_read);
    /* Write all @len bytes at @off, or fail (no short writes). */
    int (*pwrite)(struct st_file *f, const void *buf, size_t len,
                  uint64_t off);
    int (*fsync)(struct st_file *f);
    int (*truncate)(struct st_file *f, uint64_t size);
    int (*size)(struct st_file *f, uint64_t *out);
    /* Atomically replace @to with @from (POSIX rename semantics). */
    int (*rename)(struct st_vfs *v, const char *from, const char *to);
    int (*unlink)(struct st_vfs *v, const char *path);
    int (*mkdir)(struct st_vfs *v, const char *path); /* ST_EEXIST if there */
    int (*rmdir)(struct st_vfs *v, const char *path); /* must be empty */
    /* Make the directory's entries (creates, renames, unlinks) durable. */
    int (*fsync_dir)(struct st_vfs *v, const char *path);
    /* Names in @dir (no "." or ".."), sorted bytewise. Ownership: *names and
     * each string are the caller's; free with st_vfs_names_free(). */
    int (*list)(struct st_vfs *v, const char *dir, char ***names, size_t *n);
    /* 0 if @path exists; *is_dir set when not NULL. ST_ENOENT otherwise. */
    int (*stat)(struct st_vfs *v, const char *path, int *is_dir);
    /* Map the read-only file descriptor of @f for zero-copy sends, or -1 if
     * this vfs has none (mem vfs). May be NULL in an ops table. */
    int (*fd)(struct st_file *f);
};

struct st_vfs {
    const struct st_vfs_ops *ops;
};

/* The real file system (open/pread/pwrite/fsync/rename...). Static; never
 * freed. */
struct st_vfs *st_vfs_posix(void);

/* ---- in-memory vfs that can lose power (tests only) ---- */

/* Create an empty in-memory file system with root directory "/" and any
 * parent path created implicitly by mkdir -p semantics of st_vfs_mkdir_p().
 * @seed drives the random choices of st_vfs_mem_crash().
 * Ownership: the caller frees it with st_vfs_mem_free() after closing files. */
int st_vfs_mem_new(uint64_t seed, struct st_vfs **out);
void st_vfs_mem_free(struct st_vfs *v);

/* Lose power: every open st_file of @v becomes invalid (later calls on it
 * return ST_EIO; st_vfs_close() still frees it), and the contents become a
 * legal crash state as described at the top of this file. @mode picks how
 * much unsynced data survives. */
enum st_vfs_crash_mode {
    ST_VFS_CRASH_DROP_ALL,  /* keep only what was fsynced */
    ST_VFS_CRASH_RANDOM,    /* a random prefix of later writes, maybe torn */
};
void st_vfs_mem_crash(struct st_vfs *v, enum st_vfs_crash_mode mode);

/* Fault injection: the @nth next call (1 = the very next) of the given kind
 * fails with @err (ST_EIO, ST_ENOSPC...); 0 disables. WRITE counts pwrite
 * (a failed one writes nothing), FSYNC counts fsync and fsync_dir, OPEN
 * counts open. A failed fsync also drops that file's unsynced writes from
 * the durable path (reads still see them; a later fsync does not save
 * them), as Linux may: treat a failed fsync as fatal for the file. Kinds: */
enum st_vfs_fault_kind { ST_VFS_FAULT_WRITE, ST_VFS_FAULT_FSYNC,
                         ST_VFS_FAULT_OPEN };
void st_vfs_mem_fail_nth(struct st_vfs *v, enum st_vfs_fault_kind kind,
                         unsigned nth, int err);
/* Total bytes the mem vfs may hold; writes past it fail ST_ENOSPC.
 * 0 means unlimited (the default). */
void st_vfs_mem_set_capacity(struct st_vfs *v, uint64_t bytes);

/* ---- convenience wrappers (call through ops) ---- */

static inline int st_vfs_open(struct st_vfs *v, const char *path, int flags,
                              struct st_file **out)
{
    return v->ops->open(v, path, flags, out);
}
/* Each st_file starts with a pointer to its vfs, so wrappers can find ops. */
struct st_file_base {
    struct st_vfs *vfs;
};
#define ST_FILE_OPS(f) (((struct st_file_base *)(void *)(f))->vfs->ops)
/* NULL-safe. Returns the close() status of the vfs (0 for NULL). */
static inline int st_vfs_close(struct st_file *f)
{
    return f ? ST_FILE_OPS(f)->close(f) : 0;
}
static inline int st_vfs_pread(struct st_file *f, void *buf, size_t len,
                               uint64_t off, size_t *n_read)
{
    return ST_FILE_OPS(f)->pread(f, buf, len, off, n_read);
}
static inline int st_vfs_pwrite(struct st_file *f, const void *buf,
                                size_t len, uint64_t off)
{
    return ST_FILE_OPS(f)->pwrite(f, buf, len, off);
}
static inline int st_vfs_fsync(struct st_file *f)
{
    return ST_FILE_OPS(f)->fsync(f);
}
static inline int st_vfs_truncate(struct st_file *f, uint64_t size)
{
    return ST_FILE_OPS(f)->truncate(f, size);
}
static inline int st_vfs_size(struct st_file *f, uint64_t *out)
{
    return ST_FILE_OPS(f)->size(f, out);
}
static inline int st_vfs_fd(struct st_file *f)
{
    return ST_FILE_OPS(f)->fd ? ST_FILE_OPS(f)->fd(f) : -1;
}
static inline int st_vfs_rename(struct st_vfs *v, const char *from,
                                const char *to)
{
    return v->ops->rename(v, from, to);
}
static inline int st_vfs_unlink(struct st_vfs *v, const char *path)
{
    return v->ops->unlink(v, path);
}
static inline int st_vfs_mkdir(struct st_vfs *v, const char *path)
{
    return v->ops->mkdir(v, path);
}
static inline int st_vfs_rmdir(struct st_vfs *v, const char *path)
{
    return v->ops->rmdir(v, path);
}
static inline int st_vfs_fsync_dir(struct st_vfs *v, const char *path)
{
    return v->ops->fsync_dir(v, path);
}
static inline int st_vfs_list(struct st_vfs *v, const char *dir,
                              char ***names, size_t *n)
{
    return v->ops->list(v, dir, names, n);
}
static inline int st_vfs_stat(struct st_vfs *v, const char *path, int *is_dir)
{
    return v->ops->stat(v, path, is_dir);
}

/* Free a list returned by st_vfs_list(). NULL-safe. */
void st_vfs_names_free(char **names, size_t n);

/* mkdir -p: create @path and missing parents; existing ones are fine. */
int st_vfs_mkdir_p(struct st_vfs *v, const char *path);

/* Replace @path with @len bytes atomically and durably: write @path.tmp,
 * fsync it, rename over @path, fsync the parent directory. A crash at any
 * point leaves either the old or the new contents under @path. */
int st_vfs_write_atomic(struct st_vfs *v, const char *path, const void *buf,
                        size_t len);

/* Read all of @path into a new heap buffer (st_malloc). Ownership: *out is
 * the caller's (st_free). Errors: ST_ENOENT, ST_EIO, ST_ENOMEM. */
int st_vfs_read_all(struct st_vfs *v, const char *path, uint8_t **out,
                    size_t *len);

#endif
