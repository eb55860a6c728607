/* Helpers built on the st_vfs interface: mkdir -p, durable atomic replace,
 * whole-file read. They work the same on every vfs (posix or mem). */
#include "vfs.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

void st_vfs_names_free(char **names, size_t n)
{
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        st_free(names[i]);
    }
    st_free(names);
}

int st_vfs_mkdir_p(struct st_vfs *v, const char *path)
{
    size_t len = strlen(path);
    char *p = st_malloc(len + 1);
    if (p == NULL) {
        return ST_ENOMEM;
    }
    memcpy(p, path, len + 1);
    int rv = 0;
    /* Visit each prefix that ends before a '/' (and the whole path). */
    for (size_t i = 1; i <= len && rv == 0; i++) {
        if (i < len && p[i] != '/') {
            continue;
        }
        if (p[i - 1] == '/') {
            continue; /* "//" or a trailing '/' */
        }
        char saved = p[i];
        p[i] = '\0';
        int is_dir = 0;
        rv = st_vfs_stat(v, p, &is_dir);
        if (rv == 0 && !is_dir) {
            rv = -ENOTDIR;
        } else if (rv == ST_ENOENT) {
            rv = st_vfs_mkdir(v, p);
            if (rv == ST_EEXIST) {
                rv = 0; /* raced with another creator: fine */
            }
        }
        p[i] = saved;
    }
    st_free(p);
    return rv;
}

/* Write @dir (the parent of @path, "." when it has no '/') into @out. */
static int parent_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return snprintf(out, cap, ".") < (int)cap ? 0 : ST_EINVAL;
    }
    while (slash > path && slash[-1] == '/') {
        slash--;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) {
        n = 1; /* the root "/" */
    }
    if (n + 1 > cap) {
        return ST_EINVAL;
    }
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

static int write_file_synced(struct st_vfs *v, const char *path,
                             const void *buf, size_t len)
{
    struct st_file *f = NULL;
    int rv = st_vfs_open(v, path, ST_VFS_CREATE | ST_VFS_TRUNC, &f);
    if (rv != 0) {
        return rv;
    }
    rv = st_vfs_pwrite(f, buf, len, 0);
    if (rv == 0) {
        rv = st_vfs_fsync(f);
    }
    int crv = st_vfs_close(f);
    return rv != 0 ? rv : crv;
}

int st_vfs_write_atomic(struct st_vfs *v, const char *path, const void *buf,
                        size_t len)
{
    size_t plen = strlen(path);
    char *tmp = st_malloc(plen + 5);
    char *dir = st_malloc(plen + 2);
    int rv = ST_ENOMEM;
    if (tmp == NULL || dir == NULL) {
        goto out;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    rv = parent_dir(path, dir, plen + 2);
    if (rv != 0) {
        goto out;
    }
    rv = write_file_synced(v, tmp, buf, len);
    if (rv != 0) {
        goto err_after_tmp;
    }
    rv = st_vfs_rename(v, tmp, path);
    if (rv != 0) {
        goto err_after_tmp;
    }
    /* Until the directory is fsynced a crash may still show the old file;
     * after it, only the new one. */
    rv = st_vfs_fsync_dir(v, dir);
    goto out;
err_after_tmp:
    (void)st_vfs_unlink(v, tmp); /* best effort; a stale .tmp is harmless */
out:
    st_free(tmp);
    st_free(dir);
    return rv;
}

int st_vfs_read_all(struct st_vfs *v, const char *path, uint8_t **out,
                    size_t *len)
{
    struct st_file *f = NULL;
    uint64_t size = 0;
    int rv = st_vfs_open(v, path, ST_VFS_RDONLY, &f);
    if (rv != 0) {
        return rv;
    }
    rv = st_vfs_size(f, &size);
    if (rv != 0) {
        goto err_after_open;
    }
    if (size >= SIZE_MAX) {
        rv = ST_ENOMEM;
        goto err_after_open;
    }
    /* One spare byte, always NUL, so text callers may treat it as a C
     * string (a NUL inside the file still ends such a string early). */
    uint8_t *buf = st_malloc((size_t)size + 1);
    if (buf == NULL) {
        rv = ST_ENOMEM;
        goto err_after_open;
    }
    size_t n = 0;
    rv = st_vfs_pread(f, buf, (size_t)size, 0, &n);
    if (rv != 0) {
        st_free(buf);
        goto err_after_open;
    }
    buf[n] = '\0';
    rv = st_vfs_close(f);
    if (rv != 0) {
        st_free(buf);
        return rv;
    }
    *out = buf;
    *len = n;
    return 0;
err_after_open:
    st_vfs_close(f);
    return rv;
}
