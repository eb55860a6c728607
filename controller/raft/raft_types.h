/* Scalar types and the log entry shared by the Raft core (raft.h) and the
 * Raft storage (raft_store.h). No I/O, no libevent, no OpenSSL. */
#ifndef RAFT_TYPES_H
#define RAFT_TYPES_H

#include <stdint.h>

#include "common/bytes.h"

typedef uint64_t raft_term;
typedef uint64_t raft_index; /* 1-based; 0 means "none" */
typedef uint32_t raft_id;    /* node id from controller.quorum.voters; 0 none */

enum raft_entry_type {
    RAFT_ENTRY_COMMAND = 1, /* application data (a metadata record batch) */
    RAFT_ENTRY_NOOP = 2,    /* appended by a new leader to commit its term */
    RAFT_ENTRY_CONFIG = 3,  /* voter set change (reserved: voters are static) */
};

/* One log entry. @data is a view; who owns the bytes is said by the API
 * that hands the entry over. */
struct raft_entry {
    raft_term term;
    raft_index index;
    uint8_t type; /* enum raft_entry_type */
    struct st_bytes data;
};

#endif
