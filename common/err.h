/* Error values shared by every strata module.
 *
 * A function returns 0 on success or a negative ST_E* code. OS errors are the
 * negated errno; strata's own codes are -1001 and below, so the two never
 * collide. st_strerror() turns any of them into text.
 */
#ifndef ST_ERR_H
#define ST_ERR_H

#include <errno.h>

enum {
    ST_OK = 0,
    ST_EIO = -EIO,
    ST_ENOSPC = -ENOSPC,
    ST_ENOMEM = -ENOMEM,
    ST_ENOENT = -ENOENT,
    ST_EEXIST = -EEXIST,
    ST_EINVAL = -EINVAL,
    ST_EAGAIN = -EAGAIN,       /* incomplete: call again with more input */
    ST_ETIMEDOUT = -ETIMEDOUT,
    ST_ECONNREFUSED = -ECONNREFUSED,
    ST_ECANCELED = -ECANCELED,

    ST_ECORRUPT = -1001,       /* bytes on disk or wire failed validation */
    ST_ENOTLEADER = -1002,     /* this node does not lead what was asked */
    ST_EFENCED = -1003,        /* a newer epoch or incarnation exists */
    ST_ETOOBIG = -1004,        /* over a configured size limit */
    ST_EPROTO = -1005,         /* the peer broke the wire protocol */
    ST_ECRC = -1006,           /* a CRC32C did not match */
    ST_ETLS = -1007,           /* TLS setup or handshake failed */
    ST_ECONFIG = -1008,        /* a configuration key or value is bad */
    ST_ECLOSED = -1009,        /* the object or connection is closed */
    ST_EUNSUPPORTED = -1010,   /* unknown API, version or codec */
    ST_ERANGE = -1011,         /* offset or index outside the valid range */
    ST_ESTALE = -1012,         /* request based on an old term/epoch */
    ST_ECOMPRESS = -1013,      /* compression or decompression failed */
};

/* A static, human-readable description of @rv (0, an ST_E* code, or any
 * negated errno). Never returns NULL. Runs on: any thread. */
const char *st_strerror(int rv);

/* The symbolic name of @rv ("ST_ECORRUPT", "EIO"...), or "?" when unknown. */
const char *st_errname(int rv);

#endif
