/* Properties files against a typed schema: every type and unit, ranges,
 * messages that name file:line and key, overrides, dumps. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/diag.h"
#include "common/err.h"
#include "test_util.h"

static const struct st_conf_key schema[] = {
    {.name = "num.partitions", .type = ST_CONF_INT, .def = "1", .min = 1,
     .max = 10000, .doc = "partitions of a new topic"},
    {.name = "offset.delta", .type = ST_CONF_INT, .def = "-5"},
    {.name = "log.segment.bytes", .type = ST_CONF_SIZE, .def = "1GiB",
     .min = 1 << 20, .max = 1ll << 40},
    {.name = "buffer.bytes", .type = ST_CONF_SIZE, .def = "64KiB"},
    {.name = "session.timeout.ms", .type = ST_CONF_MS, .def = "30s",
     .min = 100, .max = 7 * 86400000ll},
    {.name = "retention", .type = ST_CONF_MS, .def = "7d"},
    {.name = "auto.create.topics.enable", .type = ST_CONF_BOOL,
     .def = "true"},
    {.name = "log.dirs", .type = ST_CONF_STR, .def = "/var/lib/strata"},
    {.name = "compression.type", .type = ST_CONF_ENUM, .def = "none",
     .choices = "none|zstd"},
    {.name = "bootstrap.servers", .type = ST_CONF_ENDPOINTS,
     .def = "localhost:9092", .min = 1},
    {.name = "controller.quorum.voters", .type = ST_CONF_VOTERS, .def = ""},
    {.name = "node.id", .type = ST_CONF_INT, .min = 0, .max = 1000,
     .flags = ST_CONF_REQUIRED, .doc = "this node's id"},
    {.name = "ssl.key.password", .type = ST_CONF_STR, .def = "",
     .flags = ST_CONF_SECRET},
    {.name = NULL},
};

static struct {
    struct st_conf *c;
    char err[512];
    char dir[256];
} f;

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_conf_new(schema, &f.c), 0);
}

static void teardown(void)
{
    st_conf_free(f.c);
    if (f.dir[0] != '\0') {
        st_test_rmdir(f.dir);
    }
}

/* Set one key; returns the status, message in f.err. */
static int set(const char *key, const char *value)
{
    f.err[0] = '\0';
    return st_conf_set(f.c, key, value, "test", f.err, sizeof f.err);
}

static int load(const char *text)
{
    f.err[0] = '\0';
    return st_conf_load_buf(f.c, "server.properties", text, strlen(text),
                            f.err, sizeof f.err);
}

START_TEST(test_defaults_are_typed_values)
{
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 1);
    ck_assert_int_eq(st_conf_int(f.c, "offset.delta"), -5);
    ck_assert_uint_eq(st_conf_size(f.c, "log.segment.bytes"), 1ull << 30);
    ck_assert_uint_eq(st_conf_ms(f.c, "session.timeout.ms"), 30000);
    ck_assert_uint_eq(st_conf_ms(f.c, "retention"), 7 * 86400000ull);
    ck_assert(st_conf_bool(f.c, "auto.create.topics.enable"));
    ck_assert_str_eq(st_conf_str(f.c, "log.dirs"), "/var/lib/strata");
    ck_assert_str_eq(st_conf_str(f.c, "compression.type"), "none");
    const struct st_endpoints *e = st_conf_endpoints(f.c, "bootstrap.servers");
    ck_assert_uint_eq(e->n, 1);
    ck_assert_str_eq(e->v[0].host, "localhost");
    ck_assert_uint_eq(e->v[0].port, 9092);
    ck_assert_int_eq(e->v[0].id, -1);
    ck_assert_uint_eq(st_conf_endpoints(f.c, "controller.quorum.voters")->n,
                      0);
    ck_assert_str_eq(st_conf_origin(f.c, "log.dirs"), "default");
}
END_TEST

START_TEST(test_int_is_range_checked_with_a_message_naming_line_and_key)
{
    ck_assert_int_eq(set("num.partitions", "10000"), 0);
    ck_assert_int_eq(set("num.partitions", "+7"), 0);
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 7);
    ck_assert_int_eq(set("offset.delta", "-9223372036854775808"), 0);
    ck_assert_int_eq(st_conf_int(f.c, "offset.delta"), INT64_MIN);
    ck_assert_int_eq(set("offset.delta", "9223372036854775808"), ST_ECONFIG);
    ck_assert_int_eq(set("num.partitions", "0"), ST_ECONFIG);
    ck_assert_int_eq(set("num.partitions", "10001"), ST_ECONFIG);
    ck_assert_int_eq(set("num.partitions", "1e3"), ST_ECONFIG);
    ck_assert_int_eq(set("num.partitions", ""), ST_ECONFIG);
    /* A bad value leaves the previous one in place. */
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 7);

    ck_assert_int_eq(load("# comment\n\nnum.partitions=abc\n"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "server.properties:3: bad value 'abc' for "
                            "'num.partitions': expected an integer in "
                            "[1, 10000]");
}
END_TEST

START_TEST(test_sizes_take_binary_and_decimal_units)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {
        {"4096", 4096},          {"0", 0},
        {"512KiB", 512 << 10},   {"64MiB", 64 << 20},
        {"1GiB", 1ull << 30},    {"2TiB", 2ull << 40},
        {"10MB", 10000000},      {"3KB", 3000},
        {"1GB", 1000000000},     {"1TB", 1000000000000ull},
        {"100B", 100},           {"1 GiB", 1ull << 30},
        {"64mib", 64 << 20},     {" 7kb ", 7000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(set("buffer.bytes", ok[i].text) == 0, "%s: %s",
                      ok[i].text, f.err);
        ck_assert_uint_eq(st_conf_size(f.c, "buffer.bytes"), ok[i].bytes);
    }
    const char *bad[] = {"1.5GiB", "12XB", "", "-1", "GiB", "1 G",
                         "99999999999999999999", "16777216TiB", "1GiBB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(set("buffer.bytes", bad[i]) == ST_ECONFIG, "%s",
                      bad[i]);
    }
    ck_assert_int_eq(set("log.segment.bytes", "512KiB"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "test: bad value '512KiB' for 'log.segment.bytes':"
                            " expected a size (4096, 512KiB, 64MiB, 1GiB) in "
                            "[1MiB, 1TiB]");
}
END_TEST

START_TEST(test_durations_take_units_and_plain_numbers_are_ms)
{
    static const struct {
        const char *text;
        uint64_t ms;
    } ok[] = {
        {"500ms", 500},       {"30s", 30000},       {"5m", 300000},
        {"1h", 3600000},      {"7d", 604800000},    {"250", 250},
        {"2 s", 2000},        {"0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(set("retention", ok[i].text) == 0, "%s: %s",
                      ok[i].text, f.err);
        ck_assert_uint_eq(st_conf_ms(f.c, "retention"), ok[i].ms);
    }
    const char *bad[] = {"5 minutes", "1w", "-1s", "", "1.5s", "3S", "ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(set("retention", bad[i]) == ST_ECONFIG, "%s", bad[i]);
    }
    ck_assert_int_eq(set("session.timeout.ms", "50ms"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "test: bad value '50ms' for 'session.timeout.ms':"
                            " expected a duration (500ms, 30s, 5m, 1h, 7d) in"
                            " [100ms, 7d]");
}
END_TEST

START_TEST(test_bools_are_true_or_false_only)
{
    ck_assert_int_eq(set("auto.create.topics.enable", "false"), 0);
    ck_assert(!st_conf_bool(f.c, "auto.create.topics.enable"));
    ck_assert_int_eq(set("auto.create.topics.enable", "TRUE"), 0);
    ck_assert(st_conf_bool(f.c, "auto.create.topics.enable"));
    ck_assert_int_eq(set("auto.create.topics.enable", "yes"), ST_ECONFIG);
    ck_assert_int_eq(set("auto.create.topics.enable", "1"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "test: bad value '1' for "
                            "'auto.create.topics.enable': expected true or "
                            "false");
}
END_TEST

START_TEST(test_strings_and_enums)
{
    ck_assert_int_eq(set("log.dirs", "  /data/a,/data/b  "), 0);
    ck_assert_str_eq(st_conf_str(f.c, "log.dirs"), "/data/a,/data/b");
    ck_assert_int_eq(set("log.dirs", ""), 0);
    ck_assert_str_eq(st_conf_str(f.c, "log.dirs"), "");
    ck_assert_int_eq(set("compression.type", "zstd"), 0);
    ck_assert_str_eq(st_conf_str(f.c, "compression.type"), "zstd");
    ck_assert_int_eq(set("compression.type", "gzip"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "test: bad value 'gzip' for 'compression.type': "
                            "expected one of: none, zstd");
    ck_assert_int_eq(set("compression.type", "zst"), ST_ECONFIG);
    ck_assert_int_eq(set("compression.type", "ZSTD"), ST_ECONFIG);
}
END_TEST

START_TEST(test_endpoint_lists_parse_hosts_ports_and_ipv6)
{
    ck_assert_int_eq(set("bootstrap.servers", "h1:1, h2.example.com:2 ,"
                                              "[::1]:9092"), 0);
    const struct st_endpoints *e = st_conf_endpoints(f.c, "bootstrap.servers");
    ck_assert_uint_eq(e->n, 3);
    ck_assert_str_eq(e->v[0].host, "h1");
    ck_assert_uint_eq(e->v[0].port, 1);
    ck_assert_str_eq(e->v[1].host, "h2.example.com");
    ck_assert_uint_eq(e->v[1].port, 2);
    ck_assert_str_eq(e->v[2].host, "::1");
    ck_assert_uint_eq(e->v[2].port, 9092);
    const char *bad[] = {"h1",    "h1:0",  "h1:70000", ":1",  "h1:1,",
                         "a b:1", "h:1:2", "[::1:5",   "h:x", "1@h:1",
                         "[h]:1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(set("bootstrap.servers", bad[i]) == ST_ECONFIG, "%s",
                      bad[i]);
    }
    ck_assert_str_eq(f.err, "test: bad value '' for 'bootstrap.servers': "
                            "expected host:port[,host:port...] (at least 1 "
                            "entry)");
}
END_TEST

START_TEST(test_voters_need_unique_ids)
{
    ck_assert_int_eq(set("controller.quorum.voters",
                         "1@h1:9093,2@h2:9093, 3@[::1]:9093"), 0);
    const struct st_endpoints *e =
        st_conf_endpoints(f.c, "controller.quorum.voters");
    ck_assert_uint_eq(e->n, 3);
    ck_assert_int_eq(e->v[0].id, 1);
    ck_assert_int_eq(e->v[2].id, 3);
    ck_assert_str_eq(e->v[2].host, "::1");
    ck_assert_uint_eq(e->v[1].port, 9093);
    const char *bad[] = {"1@h1:1,1@h2:2", "h1:1", "x@h:1", "@h:1",
                         "1@", "-1@h:1", "99999999999@h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(set("controller.quorum.voters", bad[i]) == ST_ECONFIG,
                      "%s", bad[i]);
    }
    /* The last good value is kept. */
    ck_assert_uint_eq(st_conf_endpoints(f.c, "controller.quorum.voters")->n,
                      3);
}
END_TEST

START_TEST(test_file_skips_comments_trims_and_accepts_crlf)
{
    ck_assert_int_eq(load("\xEF\xBB\xBF# a comment\r\n"
                          "   # indented comment\r\n"
                          "\r\n"
                          "  num.partitions =  12  \r\n"
                          "log.dirs=/a b\r\n"
                          "\t\n"
                          "compression.type=zstd"), /* no final newline */
                     0);
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 12);
    ck_assert_str_eq(st_conf_str(f.c, "log.dirs"), "/a b");
    ck_assert_str_eq(st_conf_str(f.c, "compression.type"), "zstd");
    ck_assert_str_eq(st_conf_origin(f.c, "num.partitions"),
                     "server.properties:4");
}
END_TEST

START_TEST(test_unknown_key_names_file_line_and_key)
{
    ck_assert_int_eq(load("num.partitions=3\n\n\n\n\n\n\n\n\n\n\n"
                          "log.flush.polcy=always\n"),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err,
                     "server.properties:12: unknown key 'log.flush.polcy'");
}
END_TEST

START_TEST(test_lines_without_equals_or_key_or_with_nul_are_errors)
{
    ck_assert_int_eq(load("num.partitions 3\n"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "server.properties:1: expected key=value, got "
                            "'num.partitions 3'");
    ck_assert_int_eq(load("=3\n"), ST_ECONFIG);
    ck_assert_str_eq(f.err, "server.properties:1: empty key before '='");
    const char nul[] = "log.dirs=a\0b\n";
    ck_assert_int_eq(st_conf_load_buf(f.c, "x", nul, sizeof nul - 1, f.err,
                                      sizeof f.err),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err, "x:1: line contains a NUL byte");
}
END_TEST

START_TEST(test_a_duplicate_key_takes_the_last_value_like_kafka)
{
    ck_assert_int_eq(load("num.partitions=3\nnum.partitions=4\n"), 0);
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 4);
    ck_assert_str_eq(st_conf_origin(f.c, "num.partitions"),
                     "server.properties:2");
}
END_TEST

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    if (f.dir[0] == '\0') {
        st_test_tmpdir(f.dir, sizeof f.dir);
    }
    snprintf(path, sizeof path, "%s/%s", f.dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

START_TEST(test_command_line_overrides_win_over_the_file)
{
    /* Given a file setting two keys, */
    const char *path = write_file("server.properties",
                                  "num.partitions=3\nlog.dirs=/from/file\n");
    ck_assert_int_eq(st_conf_load_file(f.c, path, f.err, sizeof f.err), 0);
    /* when --set overrides one of them, */
    ck_assert_int_eq(st_conf_set_arg(f.c, "num.partitions=9", "command line",
                                     f.err, sizeof f.err),
                     0);
    /* it wins, and each value knows where it came from. */
    ck_assert_int_eq(st_conf_int(f.c, "num.partitions"), 9);
    ck_assert_str_eq(st_conf_origin(f.c, "num.partitions"), "command line");
    ck_assert_str_eq(st_conf_str(f.c, "log.dirs"), "/from/file");
    char want[600];
    snprintf(want, sizeof want, "%s:2", path);
    ck_assert_str_eq(st_conf_origin(f.c, "log.dirs"), want);

    ck_assert_int_eq(st_conf_set_arg(f.c, "num.partitions", "command line",
                                     f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err, "command line: expected key=value, got "
                            "'num.partitions'");
    ck_assert_int_eq(st_conf_set_arg(f.c, "nope=1", "command line", f.err,
                                     sizeof f.err),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err, "command line: unknown key 'nope'");
}
END_TEST

START_TEST(test_a_bad_value_in_a_file_names_its_path_and_line)
{
    const char *path = write_file("b.properties", "\n\nnum.partitions=0\n");
    ck_assert_int_eq(st_conf_load_file(f.c, path, f.err, sizeof f.err),
                     ST_ECONFIG);
    char want[700];
    snprintf(want, sizeof want, "%s:3: bad value '0' for 'num.partitions': "
             "expected an integer in [1, 10000]", path);
    ck_assert_str_eq(f.err, want);
}
END_TEST

START_TEST(test_a_missing_file_is_a_config_error)
{
    ck_assert_int_eq(st_conf_load_file(f.c, "/nonexistent/s.properties",
                                       f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err, "/nonexistent/s.properties: cannot read: "
                            "No such file or directory");
}
END_TEST

START_TEST(test_required_keys_must_be_set)
{
    ck_assert_int_eq(st_conf_check_required(f.c, f.err, sizeof f.err),
                     ST_ECONFIG);
    ck_assert_str_eq(f.err, "missing required key 'node.id' (this node's id)");
    ck_assert_str_eq(st_conf_origin(f.c, "node.id"), "unset");
    ck_assert_int_eq(set("node.id", "2"), 0);
    ck_assert_int_eq(st_conf_check_required(f.c, f.err, sizeof f.err), 0);
}
END_TEST

START_TEST(test_secrets_are_not_shown_in_messages_or_dumps)
{
    ck_assert_int_eq(set("ssl.key.password", "hunter2"), 0);
    ck_assert_str_eq(st_conf_str(f.c, "ssl.key.password"), "hunter2");
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    st_conf_print(f.c, out);
    fclose(out);
    ck_assert_ptr_null(strstr(text, "hunter2"));
    ck_assert_ptr_nonnull(strstr(text, "ssl.key.password=[hidden]\n"));
    free(text);
}
END_TEST

struct dump_seen {
    unsigned n;
    char segment[64];
    char voters[128];
    char origin[64];
};

static void collect(void *arg, const char *key, const char *value,
                    const char *origin)
{
    struct dump_seen *s = arg;
    s->n++;
    if (strcmp(key, "log.segment.bytes") == 0) {
        snprintf(s->segment, sizeof s->segment, "%s", value);
    }
    if (strcmp(key, "controller.quorum.voters") == 0) {
        snprintf(s->voters, sizeof s->voters, "%s", value);
        snprintf(s->origin, sizeof s->origin, "%s", origin);
    }
}

START_TEST(test_dump_shows_every_key_in_its_largest_exact_unit)
{
    ck_assert_int_eq(set("controller.quorum.voters", "1@a:1,2@[::1]:2"), 0);
    struct dump_seen seen = {0};
    st_conf_dump(f.c, collect, &seen);
    ck_assert_uint_eq(seen.n, sizeof schema / sizeof schema[0] - 1);
    ck_assert_str_eq(seen.segment, "1GiB");
    ck_assert_str_eq(seen.voters, "1@a:1,2@[::1]:2");
    ck_assert_str_eq(seen.origin, "test");
}
END_TEST

START_TEST(test_print_reads_back_to_the_same_values)
{
    /* Given a configuration with values from several places, */
    ck_assert_int_eq(load("num.partitions=12\nbuffer.bytes=4097\n"
                          "session.timeout.ms=1500\nretention=90m\n"
                          "bootstrap.servers=a:1,[::1]:2\n"
                          "controller.quorum.voters=1@a:1\nnode.id=3\n"
                          "compression.type=zstd\n"
                          "auto.create.topics.enable=false\n"),
                     0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    st_conf_print(f.c, out);
    fclose(out);
    /* when its printout is loaded into a fresh one, */
    struct st_conf *c2;
    ck_assert_int_eq(st_conf_new(schema, &c2), 0);
    ck_assert_msg(st_conf_load_buf(c2, "printed", text, len, f.err,
                                   sizeof f.err) == 0,
                  "%s", f.err);
    /* every value is the same. */
    ck_assert_int_eq(st_conf_int(c2, "num.partitions"), 12);
    ck_assert_uint_eq(st_conf_size(c2, "buffer.bytes"), 4097);
    ck_assert_uint_eq(st_conf_ms(c2, "session.timeout.ms"), 1500);
    ck_assert_uint_eq(st_conf_ms(c2, "retention"), 90 * 60000);
    ck_assert_str_eq(st_conf_endpoints(c2, "bootstrap.servers")->v[1].host,
                     "::1");
    ck_assert_int_eq(st_conf_endpoints(c2, "controller.quorum.voters")->v[0].id,
                     1);
    ck_assert_int_eq(st_conf_int(c2, "node.id"), 3);
    ck_assert_str_eq(st_conf_str(c2, "compression.type"), "zstd");
    ck_assert(!st_conf_bool(c2, "auto.create.topics.enable"));
    ck_assert_ptr_nonnull(strstr(text, "# partitions of a new topic\n"));
    ck_assert_ptr_nonnull(strstr(text, "# from server.properties:1\n"));
    st_conf_free(c2);
    free(text);
}
END_TEST

START_TEST(test_log_writes_one_line_per_key)
{
    /* Given diag lines going to a file, */
    char path[512];
    st_test_tmpdir(f.dir, sizeof f.dir);
    snprintf(path, sizeof path, "%s/diag.log", f.dir);
    ck_assert_int_eq(st_diag_open_file(path), 0);
    ck_assert_int_eq(set("ssl.key.password", "hunter2"), 0);
    /* when the config is logged, */
    st_conf_log(f.c, "broker");
    /* every key has its line, and the secret stays hidden. */
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    char line[512];
    unsigned n = 0;
    bool seen_secret = false;
    while (fgets(line, sizeof line, fp) != NULL) {
        n += strstr(line, " config ") != NULL;
        ck_assert_ptr_null(strstr(line, "hunter2"));
        seen_secret |= strstr(line, "config ssl.key.password=[hidden] "
                                    "origin=test") != NULL;
    }
    fclose(fp);
    ck_assert_uint_eq(n, sizeof schema / sizeof schema[0] - 1);
    ck_assert(seen_secret);
}
END_TEST

START_TEST(test_format_uses_the_largest_exact_unit)
{
    char buf[32];
    st_conf_format_size(64ull << 20, buf, sizeof buf);
    ck_assert_str_eq(buf, "64MiB");
    st_conf_format_size(1536, buf, sizeof buf);
    ck_assert_str_eq(buf, "1536"); /* 1.5KiB is not exact */
    st_conf_format_size(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0");
    st_conf_format_ms(300000, buf, sizeof buf);
    ck_assert_str_eq(buf, "5m");
    st_conf_format_ms(1500, buf, sizeof buf);
    ck_assert_str_eq(buf, "1500ms");
    st_conf_format_ms(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0ms");
}
END_TEST

START_TEST(test_reading_an_undeclared_key_is_a_bug_that_aborts)
{
    (void)st_conf_int(f.c, "no.such.key");
}
END_TEST

START_TEST(test_reading_a_key_with_the_wrong_type_aborts)
{
    (void)st_conf_int(f.c, "log.dirs");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults_are_typed_values);
    tcase_add_test(tc,
                   test_int_is_range_checked_with_a_message_naming_line_and_key);
    tcase_add_test(tc, test_sizes_take_binary_and_decimal_units);
    tcase_add_test(tc, test_durations_take_units_and_plain_numbers_are_ms);
    tcase_add_test(tc, test_bools_are_true_or_false_only);
    tcase_add_test(tc, test_strings_and_enums);
    tcase_add_test(tc, test_endpoint_lists_parse_hosts_ports_and_ipv6);
    tcase_add_test(tc, test_voters_need_unique_ids);
    tcase_add_test(tc, test_file_skips_comments_trims_and_accepts_crlf);
    tcase_add_test(tc, test_unknown_key_names_file_line_and_key);
    tcase_add_test(tc,
                   test_lines_without_equals_or_key_or_with_nul_are_errors);
    tcase_add_test(tc, test_a_duplicate_key_takes_the_last_value_like_kafka);
    tcase_add_test(tc, test_command_line_overrides_win_over_the_file);
    tcase_add_test(tc, test_a_bad_value_in_a_file_names_its_path_and_line);
    tcase_add_test(tc, test_a_missing_file_is_a_config_error);
    tcase_add_test(tc, test_required_keys_must_be_set);
    tcase_add_test(tc, test_secrets_are_not_shown_in_messages_or_dumps);
    tcase_add_test(tc, test_dump_shows_every_key_in_its_largest_exact_unit);
    tcase_add_test(tc, test_print_reads_back_to_the_same_values);
    tcase_add_test(tc, test_format_uses_the_largest_exact_unit);
    tcase_add_test(tc, test_log_writes_one_line_per_key);
    tcase_add_test_raise_signal(
        tc, test_reading_an_undeclared_key_is_a_bug_that_aborts, SIGABRT);
    tcase_add_test_raise_signal(
        tc, test_reading_a_key_with_the_wrong_type_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}
