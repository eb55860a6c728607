/* Heap allocation with test-time fault injection.
 *
 * Cores and common code allocate through st_malloc/st_calloc/st_realloc so
 * that tests can make the Nth allocation fail (cowsql's raft_heap) and check
 * that every error path unwinds cleanly.
 */
#ifndef ST_ALLOC_H
#define ST_ALLOC_H

#include <stddef.h>

void *st_malloc(size_t n);
void *st_calloc(size_t count, size_t n);
void *st_realloc(void *p, size_t n);
/* NULL-safe. */
void st_free(void *p);
/* Duplicate a NUL-terminated string; NULL on allocation failure. */
char *st_strdup(const char *s);

/* Test hook: after @countdown more successful allocations, fail the next
 * @n_fail of them (0 disables). Process-wide; not for concurrent tests. */
void st_alloc_fail_after(long countdown, long n_fail);

#endif
