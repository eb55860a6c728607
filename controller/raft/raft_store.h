/* Raft storage: the durable log, term/vote and snapshots of one Raft node.
 *
 * A store is one directory, reached only through a struct st_vfs:
 *
 *   meta                             term and vote (raft_meta.c)
 *   log-<20-digit first index>.seg   entries, CRC-checked (raft_segment.c)
 *   snapshot-<20-digit index>.snap   the newest snapshot (raft_snapshot.c)
 *   *.tmp                            leftovers of an interrupted atomic
 *                                    replace; deleted at open
 *
 * The logical log is the entries (snapshot_index, last_index]; entries at
 * or below the snapshot index are gone from the store's point of view.
 *
 * DRIVER CONTRACT (Raft §5.1, "persist before responding"): the caller must
 * not send a vote or an append acknowledgement for state that is not yet
 * durable. Durable means: raft_store_save_term_vote() returned 0 for the
 * term and vote; raft_store_sync() returned 0 after the entries were
 * appended; raft_store_truncate_from() and raft_store_snapshot_save()
 * returned 0. raft_store_append() alone promises nothing: a power loss
 * may drop any suffix of the entries appended since the last sync.
 *
 * Failed writes are sticky (LMDB's MDB_FATAL_ERROR): after any write,
 * fsync, truncate, rename or unlink fails, the store refuses every later
 * change with that first error, because a retried fsync may "succeed" over
 * pages the kernel already dropped. Close it and open it again: recovery
 * re-validates what is really on disk. Reads keep working.
 *
 * Runs on: one thread at a time (the controller's storage worker); a store
 * is not locked. Functions block on disk I/O.
 * Errors common to all: ST_ENOMEM; negated errno from the vfs (ST_EIO,
 * ST_ENOSPC...); the sticky error of an earlier failed write.
 */
#ifndef RAFT_STORE_H
#define RAFT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"
#include "common/vfs.h"
#include "controller/raft/raft_types.h"

struct raft_store;

struct raft_store_options {
    /* A segment takes no more appends once it holds this many bytes
     * (header + records); a single larger entry still fits in one
     * segment. 0 means the default, 8 MiB. */
    uint64_t segment_bytes;
};

/* What is on disk, as recovered by open or after the last change. */
struct raft_store_state {
    raft_term term;            /* current term, 0 on a fresh node */
    raft_id voted_for;         /* 0 when no vote in @term */
    raft_index snapshot_index; /* 0 when there is no snapshot */
    raft_term snapshot_term;   /* 0 when there is no snapshot */
    raft_index first_index;    /* snapshot_index + 1, always */
    raft_index last_index;     /* last entry; snapshot_index when empty */
};

/* Open (creating it and its parents when missing) the store in @dir and
 * recover it:
 * - term and vote from "meta"; absent means a fresh node (term 0);
 * - the newest snapshot whose CRC checks; a bad newer one is logged
 *   (WARN) and skipped; ST_ECORRUPT if snapshots exist but none checks;
 * - every segment record is checked (length, CRC, index sequence, term
 *   order). Damage at the end of the last segment that nothing intact
 *   follows (a cut-off record, a bad CRC on the last record, zeroes or
 *   garbage after the last record) is a torn write: it is truncated,
 *   logged (WARN) and the truncation fsynced. Any other damage, a gap
 *   between segments, or a log that does not start right after the
 *   snapshot is refused with ST_ECORRUPT, logged with file and byte
 *   position (common/diag.h ST_CORRUPT);
 * - segments wholly covered by the snapshot, and the whole log when its
 *   entry at the snapshot index has another term (Raft §7), are deleted;
 *   *.tmp files are deleted;
 * - finally the last segment and the directory are fsynced, so that what
 *   open reports is durable even after a kill -9 that left unsynced data
 *   in the page cache.
 * @opts may be NULL (defaults); it is copied. *state (may be NULL) gets
 * the recovered state.
 * Errors: ST_ECORRUPT, ST_EINVAL (@dir too long), vfs errors.
 * Ownership: on success *out is the caller's; raft_store_close() it. */
int raft_store_open(struct st_vfs *vfs, const char *dir,
                    const struct raft_store_options *opts,
                    struct raft_store **out, struct raft_store_state *state);

/* Close the files and free @s (NULL-safe). Does NOT sync: appended but
 * unsynced entries may be lost. Returns the first close error, if any;
 * @s is freed either way. */
int raft_store_close(struct raft_store *s);

/* The current state (term, vote, snapshot, first/last index). */
void raft_store_state(const struct raft_store *s,
                      struct raft_store_state *out);

/* The sticky error (see top), or 0 while the store takes writes. */
int raft_store_failed(const struct raft_store *s);

/* Replace term and vote. Durable on return (atomic replace of "meta":
 * write meta.tmp, fsync, rename, fsync directory).
 * Errors: sticky, vfs errors (which become sticky). */
int raft_store_save_term_vote(struct raft_store *s, raft_term term,
                              raft_id vote);

/* Append @n entries after the last one. Requires entries[0].index ==
 * last_index + 1, consecutive indexes, terms >= 1 that never decrease
 * (also against the last entry and the snapshot), known types, and data
 * no longer than 64 MiB each (ST_ETOOBIG). Breaking these is ST_EINVAL
 * and changes nothing. The data is copied into the segment file (the
 * entries are borrowed for the call). On return the entries can be read
 * back but are NOT durable: call raft_store_sync(). A segment that fills
 * up is fsynced before the next one is created.
 * On an error after some bytes were written, a prefix of the entries may
 * have been appended (raft_store_state() says how many).
 * Errors: ST_EINVAL, ST_ETOOBIG, sticky, vfs errors (sticky). */
int raft_store_append(struct raft_store *s, const struct raft_entry *entries,
                      size_t n);

/* Make every appended entry durable: fsync the active segment and, when
 * a segment was created since the last sync, the directory. Cheap when
 * nothing is pending. Errors: sticky, vfs errors (sticky). */
int raft_store_sync(struct raft_store *s);

/* Remove the entries with index >= @index (a divergent suffix, Raft §5.3).
 * Durable on return: later segments are unlinked and the directory
 * fsynced, then the segment holding @index is truncated and fsynced.
 * @index > last_index is a no-op.
 * Errors: ST_ERANGE (@index <= snapshot_index: committed), sticky, vfs
 * errors (sticky). */
int raft_store_truncate_from(struct raft_store *s, raft_index index);

/* Called by raft_store_load() for each entry in order. @e and its data are
 * borrowed for the call only. A non-zero return stops the load. The
 * callback must not call into the store. */
typedef int (*raft_store_entry_cb)(void *arg, const struct raft_entry *e);

/* Read entries [@from, last_index] and pass each to @cb, synchronously.
 * @from below first_index starts at first_index. Each record's CRC is
 * checked again after the read. An error stops the walk; entries already
 * passed stay passed.
 * Returns 0, @cb's non-zero value, ST_ECORRUPT (logged), or vfs errors. */
int raft_store_load(struct raft_store *s, raft_index from,
                    raft_store_entry_cb cb, void *arg);

/* Read entry @index into *out; its data is copied into @buf (reset
 * first; reuse one buf across calls) and out->data views @buf, valid until
 * @buf changes. Errors: ST_ERANGE (not in [first_index, last_index]),
 * ST_ECORRUPT, vfs errors, ST_ENOMEM. */
int raft_store_get(struct raft_store *s, raft_index index,
                   struct raft_entry *out, struct st_buf *buf);

/* Term of entry @index, from memory (no I/O): the snapshot term for
 * @index == snapshot_index. Errors: ST_ERANGE. */
int raft_store_term_at(const struct raft_store *s, raft_index index,
                       raft_term *term);

/* Install a snapshot covering the log up to @index (whose entry has term
 * @term), of @len bytes at @data (borrowed, copied). Durable on return:
 * snapshot-<index>.snap is written atomically (tmp, fsync, rename, dir
 * fsync). Then, per Raft §7: when the log holds entry @index with term
 * @term, the entries after it are kept; otherwise the whole log is
 * discarded (a leader's snapshot replaces a divergent log). Segments that
 * hold no kept entry and every other snapshot file are deleted, and the
 * directory fsynced. Afterwards first_index is @index + 1.
 * Errors: ST_EINVAL (@index or @term 0), ST_ESTALE (@index <=
 * snapshot_index), sticky, vfs errors (sticky). */
int raft_store_snapshot_save(struct raft_store *s, raft_index index,
                             raft_term term, const void *data, size_t len);

/* Read the current snapshot, checking its CRC. Ownership: *data is a new
 * heap buffer (never NULL on success) the caller frees with st_free().
 * Errors: ST_ENOENT (no snapshot), ST_ECORRUPT, vfs errors, ST_ENOMEM. */
int raft_store_snapshot_load(struct raft_store *s, raft_index *index,
                             raft_term *term, uint8_t **data, size_t *len);

#endif
