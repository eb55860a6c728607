/* Scratch directories, certificates and seeds for tests. */
#include "test_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void st_test_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/strata-test-XXXXXX", base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

void st_test_rmdir(const char *path)
{
    if (path == NULL || path[0] == '\0' || strstr(path, "strata-") == NULL) {
        return; /* refuse to remove anything that is not our scratch */
    }
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        fprintf(stderr, "warning: could not remove %s\n", path);
    }
}

const char *st_test_certs_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("STRATA_TEST_CERTS");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    if (dir[0] != '\0') {
        return dir;
    }
    char tmp[PATH_MAX];
    st_test_tmpdir(tmp, sizeof tmp);
    char cmd[PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd,
             "'%s/deploy/gen-certs.sh' '%s' localhost node1 node2 node3 "
             ">/dev/null 2>&1",
             STRATA_SOURCE_ROOT, tmp);
    ck_assert_msg(system(cmd) == 0, "gen-certs.sh failed: %s", cmd);
    snprintf(dir, sizeof dir, "%s", tmp);
    return dir;
}

long st_test_seed_override(void)
{
    const char *s = getenv("STRATA_SIM_SEED");
    if (s == NULL || s[0] == '\0') {
        return -1;
    }
    return strtol(s, NULL, 10);
}

uint64_t st_test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
