/* The real file system behind struct st_vfs.
 *
 * Thin wrappers over open/pread/pwrite/fdatasync/rename...: reads and writes
 * loop over short transfers and EINTR, and errno is turned into a negative
 * ST_E* code once, here, right after the call that set it.
 */
#include "vfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "err.h"

struct st_file {
    struct st_file_base base;
    int fd;
    int rdonly;
};

/* errno as a negative code; never 0, even if errno was not set. */
static int neg_errno(void)
{
    return errno != 0 ? -errno : ST_EIO;
}

static int posix_open(struct st_vfs *v, const char *path, int flags,
                      struct st_file **out)
{
    int oflags = O_CLOEXEC;
    oflags |= (flags & ST_VFS_RDONLY) ? O_RDONLY : O_RDWR;
    if (flags & ST_VFS_CREATE) {
        oflags |= O_CREAT;
        if (flags & ST_VFS_EXCL) {
            oflags |= O_EXCL;
        }
    }
    if (flags & ST_VFS_TRUNC) {
        oflags |= O_TRUNC;
    }
    struct st_file *f = st_malloc(sizeof *f);
    if (f == NULL) {
        return ST_ENOMEM;
    }
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int rv = neg_errno();
        st_free(f);
        return rv;
    }
    f->base.vfs = v;
    f->fd = fd;
    f->rdonly = (flags & ST_VFS_RDONLY) != 0;
    *out = f;
    return 0;
}

static int posix_close(struct st_file *f)
{
    /* Linux closes the descriptor even when close() fails (also on EINTR),
     * so never retry. */
    int rv = close(f->fd) == 0 || errno == EINTR ? 0 : neg_errno();
    st_free(f);
    return rv;
}

static int posix_pread(struct st_file *f, void *buf, size_t len,
                       uint64_t off, size_t *n_read)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done,
                          (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return neg_errno();
        }
        if (n == 0) {
            break; /* end of file */
        }
        done += (size_t)n;
    }
    *n_read = done;
    return 0;
}

static int posix_pwrite(struct st_file *f, const void *buf, size_t len,
                        uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return neg_errno();
        }
        if (n == 0) {
            return ST_EIO; /* no progress and no error: give up */
        }
        done += (size_t)n;
    }
    return 0;
}

static int posix_fsync(struct st_file *f)
{
    /* fdatasync flushes the data and whatever metadata is needed to read it
     * back (the size), which is all we rely on. */
    return fdatasync(f->fd) == 0 ? 0 : neg_errno();
}

static int posix_truncate(struct st_file *f, uint64_t size)
{
    if (f->rdonly) {
        return -EBADF;
    }
    int rv;
    do {
        rv = ftruncate(f->fd, (off_t)size);
    } while (rv != 0 && errno == EINTR);
    return rv == 0 ? 0 : neg_errno();
}

static int posix_size(struct st_file *f, uint64_t *out)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        return neg_errno();
    }
    *out = (uint64_t)st.st_size;
    return 0;
}

static int posix_rename(struct st_vfs *v, const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : neg_errno();
}

static int posix_unlink(struct st_vfs *v, const char *path)
{
    return unlink(path) == 0 ? 0 : neg_errno();
}

static int posix_mkdir(struct st_vfs *v, const char *path)
{
    return mkdir(path, 0755) == 0 ? 0 : neg_errno();
}

static int posix_rmdir(struct st_vfs *v, const char *path)
{
    return rmdir(path) == 0 ? 0 : neg_errno();
}

static int posix_fsync_dir(struct st_vfs *v, const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return neg_errno();
    }
    int rv = fsync(fd) == 0 ? 0 : neg_errno();
    close(fd);
    return rv;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int posix_list(struct st_vfs *v, const char *dir, char ***names,
                      size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return neg_errno();
    }
    char **arr = NULL;
    size_t len = 0, cap = 0;
    int rv = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            rv = errno != 0 ? -errno : 0;
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **narr = st_realloc(arr, ncap * sizeof *narr);
            if (narr == NULL) {
                rv = ST_ENOMEM;
                break;
            }
            arr = narr;
            cap = ncap;
        }
        arr[len] = st_strdup(e->d_name);
        if (arr[len] == NULL) {
            rv = ST_ENOMEM;
            break;
        }
        len++;
    }
    closedir(d);
    if (rv != 0) {
        st_vfs_names_free(arr, len);
        return rv;
    }
    if (len > 0) {
        qsort(arr, len, sizeof *arr, cmp_names);
    }
    *names = arr;
    *n = len;
    return 0;
}

static int posix_stat(struct st_vfs *v, const char *path, int *is_dir)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return neg_errno();
    }
    if (is_dir != NULL) {
        *is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
    }
    return 0;
}

static int posix_fd(struct st_file *f)
{
    return f->fd;
}

static const struct st_vfs_ops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .fsync = posix_fsync,
    .truncate = posix_truncate,
    .size = posix_size,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .rmdir = posix_rmdir,
    .fsync_dir = posix_fsync_dir,
    .list = posix_list,
    .stat = posix_stat,
    .fd = posix_fd,
};

static struct st_vfs posix_vfs = {.ops = &posix_ops};

struct st_vfs *st_vfs_posix(void)
{
    return &posix_vfs;
}
