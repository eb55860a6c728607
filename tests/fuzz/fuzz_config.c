/* libFuzzer target for the properties parser (common/config.c).
 *
 * Each input is parsed as a config file against a schema with every type.
 * A failure must leave a message; a success must print (st_conf_print) to
 * text that parses again into the same values (compared through
 * st_conf_dump), which checks the formatters against the parsers.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a few valid files
 * there as seeds and exits (tests/fuzz/run-fuzz.sh does this once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const struct st_conf_key schema[] = {
    {.name = "i", .type = ST_CONF_INT, .def = "1", .min = 1, .max = 10000},
    {.name = "j", .type = ST_CONF_INT, .def = "0"},
    {.name = "s", .type = ST_CONF_SIZE, .def = "1GiB", .min = 1,
     .max = 1ll << 50},
    {.name = "t", .type = ST_CONF_SIZE, .def = "0"},
    {.name = "d", .type = ST_CONF_MS, .def = "30s"},
    {.name = "e", .type = ST_CONF_MS, .def = "1s", .min = 10,
     .max = 86400000},
    {.name = "b", .type = ST_CONF_BOOL, .def = "false"},
    {.name = "str", .type = ST_CONF_STR, .def = "x"},
    {.name = "en", .type = ST_CONF_ENUM, .def = "a", .choices = "a|bb|ccc"},
    {.name = "hp", .type = ST_CONF_ENDPOINTS, .def = "h:1"},
    {.name = "v", .type = ST_CONF_VOTERS, .def = "1@h:1", .min = 1},
    {.name = "r", .type = ST_CONF_INT, .flags = ST_CONF_REQUIRED},
    {.name = NULL},
};

static const char *seeds[] = {
    "# seed\ni=3\nj=-7\ns=64MiB\nt=10MB\nd=5m\ne=500ms\nb=true\n",
    "str= a b \r\nen=ccc\nhp=a:1, [::1]:2\nv=1@a:1,2@b:2\nr=4\n",
    "i=2\ni=3\nunknown=1\n",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/config-seed-%zu", dir, i);
        FILE *fp = fopen(path, "w");
        if (fp != NULL) {
            fputs(seeds[i], fp);
            fclose(fp);
        }
    }
    exit(0);
}

struct dump {
    char *text;
    size_t len;
    FILE *fp;
};

static void emit(void *arg, const char *key, const char *value,
                 const char *origin)
{
    fprintf(arg, "%s=%s\n", key, value);
}

/* Every key's value as text, origins left out. Caller frees. */
static char *dump(const struct st_conf *c)
{
    struct dump d = {NULL, 0, NULL};
    d.fp = open_memstream(&d.text, &d.len);
    if (d.fp == NULL) {
        abort();
    }
    st_conf_dump(c, emit, d.fp);
    fclose(d.fp);
    return d.text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_conf *c = NULL;
    char err[256];
    if (st_conf_new(schema, &c) != 0) {
        return 0;
    }
    err[0] = '\0';
    int rv = st_conf_load_buf(c, "fuzz.properties", (const char *)data, size,
                              err, sizeof err);
    if (rv != 0) {
        if (rv != ST_ECONFIG && rv != ST_ENOMEM) {
            abort(); /* no other error is documented */
        }
        if (err[0] == '\0' || strlen(err) >= sizeof err) {
            abort(); /* every failure explains itself */
        }
        st_conf_free(c);
        return 0;
    }
    (void)st_conf_check_required(c, err, sizeof err);

    /* Round trip: print, parse again, compare the values. */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL) {
        abort();
    }
    st_conf_print(c, fp);
    fclose(fp);
    struct st_conf *c2 = NULL;
    if (st_conf_new(schema, &c2) != 0) {
        abort();
    }
    if (st_conf_load_buf(c2, "printed", text, len, err, sizeof err) != 0) {
        fprintf(stderr, "printout does not parse: %s\n%s", err, text);
        abort();
    }
    char *a = dump(c), *b = dump(c2);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "round trip changed values:\n%s---\n%s", a, b);
        abort();
    }
    free(a);
    free(b);
    free(text);
    st_conf_free(c2);
    st_conf_free(c);
    return 0;
}
