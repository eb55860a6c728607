/* Text for strata's error values. */
#include "err.h"

#include <string.h>

const char *st_strerror(int rv)
{
    switch (rv) {
    case ST_OK: return "success";
    case ST_ECORRUPT: return "data corrupt";
    case ST_ENOTLEADER: return "not the leader";
    case ST_EFENCED: return "fenced by a newer epoch";
    case ST_ETOOBIG: return "over the size limit";
    case ST_EPROTO: return "protocol violation";
    case ST_ECRC: return "CRC mismatch";
    case ST_ETLS: return "TLS failure";
    case ST_ECONFIG: return "bad configuration";
    case ST_ECLOSED: return "closed";
    case ST_EUNSUPPORTED: return "unsupported";
    case ST_ERANGE: return "out of range";
    case ST_ESTALE: return "stale epoch or term";
    case ST_ECOMPRESS: return "compression failed";
    default: break;
    }
    if (rv < 0 && rv > -1000) {
        return strerror(-rv);
    }
    return "unknown error";
}

const char *st_errname(int rv)
{
    switch (rv) {
    case ST_OK: return "OK";
    case ST_EIO: return "EIO";
    case ST_ENOSPC: return "ENOSPC";
    case ST_ENOMEM: return "ENOMEM";
    case ST_ENOENT: return "ENOENT";
    case ST_EEXIST: return "EEXIST";
    case ST_EINVAL: return "EINVAL";
    case ST_EAGAIN: return "EAGAIN";
    case ST_ETIMEDOUT: return "ETIMEDOUT";
    case ST_ECONNREFUSED: return "ECONNREFUSED";
    case ST_ECANCELED: return "ECANCELED";
    case ST_ECORRUPT: return "ST_ECORRUPT";
    case ST_ENOTLEADER: return "ST_ENOTLEADER";
    case ST_EFENCED: return "ST_EFENCED";
    case ST_ETOOBIG: return "ST_ETOOBIG";
    case ST_EPROTO: return "ST_EPROTO";
    case ST_ECRC: return "ST_ECRC";
    case ST_ETLS: return "ST_ETLS";
    case ST_ECONFIG: return "ST_ECONFIG";
    case ST_ECLOSED: return "ST_ECLOSED";
    case ST_EUNSUPPORTED: return "ST_EUNSUPPORTED";
    case ST_ERANGE: return "ST_ERANGE";
    case ST_ESTALE: return "ST_ESTALE";
    case ST_ECOMPRESS: return "ST_ECOMPRESS";
    default: return "?";
    }
}
