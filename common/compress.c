/* zstd compress/decompress with bounded output.
 *
 * Decompression streams into @dst in steps, growing it geometrically but never
 * beyond @max_out (+1 byte to detect "more than the limit"), so a small
 * hostile frame that claims or produces gigabytes costs at most @max_out.
 * The frame's declared content size, when present, is only a hint for the
 * first allocation and is checked against the limit up front.
 */
#include "compress.h"

#include <zstd.h>
#include <zstd_errors.h>

#include "alloc.h"
#include "err.h"

/* zstd's smallest window and its default streaming limit (1 << 27 bytes);
 * zstd.h only defines them for static linking. */
#define WINDOW_LOG_MIN 10
#define WINDOW_LOG_MAX 27

struct st_zstd {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
};

int st_zstd_new(struct st_zstd **out)
{
    struct st_zstd *z = st_calloc(1, sizeof *z);
    if (z == NULL) {
        return ST_ENOMEM;
    }
    *out = z;
    return 0;
}

void st_zstd_free(struct st_zstd *z)
{
    if (z == NULL) {
        return;
    }
    ZSTD_freeCCtx(z->cctx);
    ZSTD_freeDCtx(z->dctx);
    st_free(z);
}

size_t st_zstd_bound(size_t n)
{
    return ZSTD_compressBound(n);
}

static int do_compress(ZSTD_CCtx *cctx, int level, const void *src, size_t n,
                       struct st_buf *dst)
{
    size_t bound = ZSTD_compressBound(n);
    int rv = st_buf_reserve(dst, bound);
    if (rv != 0) {
        return rv;
    }
    size_t r = ZSTD_compressCCtx(cctx, dst->base + dst->len, bound, src, n,
                                 level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
    if (ZSTD_isError(r)) {
        return ST_ECOMPRESS;
    }
    dst->len += r;
    return 0;
}

int st_zstd_compress(struct st_zstd *z, int level, const void *src, size_t n,
                     struct st_buf *dst)
{
    if (z == NULL) {
        ZSTD_CCtx *tmp = ZSTD_createCCtx();
        if (tmp == NULL) {
            return ST_ENOMEM;
        }
        int rv = do_compress(tmp, level, src, n, dst);
        ZSTD_freeCCtx(tmp);
        return rv;
    }
    if (z->cctx == NULL) {
        z->cctx = ZSTD_createCCtx();
        if (z->cctx == NULL) {
            return ST_ENOMEM;
        }
    }
    return do_compress(z->cctx, level, src, n, dst);
}

/* The smallest window log covering @max_out bytes, within zstd's range.
 * zstd's compressor never picks a window larger than its input needs, so
 * any frame whose content fits the limit also fits this window. */
static int window_log_for(size_t max_out)
{
    int log = WINDOW_LOG_MIN;
    while (log < WINDOW_LOG_MAX &&
           ((size_t)1 << log) < max_out) {
        log++;
    }
    return log;
}

static int do_decompress(ZSTD_DCtx *dctx, const void *src, size_t n,
                         size_t max_out, struct st_buf *dst)
{
    unsigned long long declared = ZSTD_getFrameContentSize(src, n);
    if (declared == ZSTD_CONTENTSIZE_ERROR) {
        return ST_ECOMPRESS;
    }
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max_out) {
        return ST_ETOOBIG;
    }
    /* One byte past the limit lets us tell "exactly max_out" from "more". */
    size_t cap_max = max_out == SIZE_MAX ? max_out : max_out + 1;
    size_t first = declared != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)declared + 1
                                                        : n * 4 + 64;
    if (first > cap_max) {
        first = cap_max;
    }

    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    /* A frame may ask for a window as large as 2^27 bytes before it
     * produces anything; cap it by the output limit so a hostile header
     * cannot make us allocate more than the limit allows. */
    ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, window_log_for(max_out));
    st_buf_reset(dst);
    int rv = st_buf_reserve(dst, first);
    if (rv != 0) {
        return rv;
    }
    ZSTD_inBuffer in = {src, n, 0};
    size_t r = 1;
    for (;;) {
        if (dst->len == dst->cap) {
            if (dst->cap >= cap_max) {
                return ST_ETOOBIG;
            }
            size_t grow = dst->cap;
            if (grow > cap_max - dst->cap) {
                grow = cap_max - dst->cap;
            }
            rv = st_buf_reserve(dst, grow);
            if (rv != 0) {
                return rv;
            }
        }
        size_t room = dst->cap - dst->len;
        if (room > cap_max - dst->len) {
            room = cap_max - dst->len;
        }
        ZSTD_outBuffer out = {dst->base + dst->len, room, 0};
        r = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(r)) {
            return ZSTD_getErrorCode(r) ==
                           ZSTD_error_frameParameter_windowTooLarge
                       ? ST_ETOOBIG
                       : ST_ECOMPRESS;
        }
        dst->len += out.pos;
        if (dst->len > max_out) {
            return ST_ETOOBIG;
        }
        if (r == 0 && in.pos == in.size) {
            return 0; /* frame complete, input consumed */
        }
        if (in.pos == in.size && out.pos < room) {
            return ST_ECOMPRESS; /* input ended inside a frame */
        }
    }
}

int st_zstd_decompress(struct st_zstd *z, const void *src, size_t n,
                       size_t max_out, struct st_buf *dst)
{
    if (z == NULL) {
        ZSTD_DCtx *tmp = ZSTD_createDCtx();
        if (tmp == NULL) {
            return ST_ENOMEM;
        }
        int rv = do_decompress(tmp, src, n, max_out, dst);
        ZSTD_freeDCtx(tmp);
        return rv;
    }
    if (z->dctx == NULL) {
        z->dctx = ZSTD_createDCtx();
        if (z->dctx == NULL) {
            return ST_ENOMEM;
        }
    }
    return do_decompress(z->dctx, src, n, max_out, dst);
}
