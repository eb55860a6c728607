/* Inside the metadata state machine: the protobuf-c glue metadata_apply.c
 * and metadata_snapshot.c share. Not for use outside controller/metadata*.c. */
#ifndef ST_META_APPLY_INT_H
#define ST_META_APPLY_INT_H

#include <stdbool.h>

#include "controller/metadata.h"
#include "metadata.pb-c.h"

/* Fill @a so that protobuf-c allocates through st_malloc and sets *@oom when
 * an allocation fails (a NULL unpack is then ST_ENOMEM, not corruption). */
void stmeta_pb_allocator(ProtobufCAllocator *a, bool *oom);

/* Apply the decoded record @r at @offset; see st_meta_apply() for errors. */
int stmeta_apply_record(struct st_meta *m, int64_t offset,
                      const Strata__Meta__MetadataRecord *r);

#endif
