/* Heap allocation with a failure-injection hook for tests. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_long fail_remaining = 0;

void st_alloc_fail_after(long countdown, long n_fail)
{
    atomic_store(&fail_remaining, n_fail);
    atomic_store(&fail_countdown, n_fail > 0 ? countdown : -1);
}

static int should_fail(void)
{
    if (atomic_load(&fail_countdown) < 0) {
        return 0;
    }
    if (atomic_fetch_sub(&fail_countdown, 1) > 0) {
        return 0;
    }
    atomic_store(&fail_countdown, 0);
    if (atomic_fetch_sub(&fail_remaining, 1) > 0) {
        return 1;
    }
    atomic_store(&fail_countdown, -1);
    return 0;
}

void *st_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n ? n : 1);
}

void *st_calloc(size_t count, size_t n)
{
    return should_fail() ? NULL : calloc(count ? count : 1, n ? n : 1);
}

void *st_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void st_free(void *p)
{
    free(p);
}

char *st_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = st_malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}
