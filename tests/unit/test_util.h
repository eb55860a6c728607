/* Helpers shared by the Check test programs. */
#ifndef ST_TEST_UTIL_H
#define ST_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Every test source defines this; check_main.c runs it. */
Suite *test_suite(void);

/* Make a fresh directory under $TMPDIR (or /tmp) and write its path to
 * @out (@cap bytes). Aborts the test on failure. */
void st_test_tmpdir(char *out, size_t cap);
/* rm -rf @path (test scratch only). */
void st_test_rmdir(const char *path);
/* Directory holding the tests' certificates (env STRATA_TEST_CERTS, else
 * generated once into a temp dir by deploy/gen-certs.sh). */
const char *st_test_certs_dir(void);
/* A seed from STRATA_SIM_SEED when set (replay one seed), else -1. */
long st_test_seed_override(void);
/* Deterministic PRNG for tests (splitmix64). */
uint64_t st_test_rand(uint64_t *state);

#endif
