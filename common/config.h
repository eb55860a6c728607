/* Configuration: typed `key=value` properties with a schema per process.
 *
 * A daemon declares its keys once (name, type, default, range, one line of
 * doc) in a static table, then:
 *
 *   st_conf_new(schema, &conf);                        defaults
 *   st_conf_load_file(conf, "server.properties", ...);   the file
 *   st_conf_set_arg(conf, "num.partitions=3", "command line", ...);  --set
 *   st_conf_check_required(conf, ...);
 *   int64_t n = st_conf_int(conf, "num.partitions");
 *
 * File syntax (a subset of Java properties, as in Kafka's
 * server.properties): one `key=value` per line; blank lines and lines whose
 * first non-blank character is '#' are ignored; whitespace around key and
 * value is trimmed; CRLF line ends are accepted; a value runs to the end of
 * the line (no inline comments, no continuation lines, no quoting). When a
 * key appears twice the last one wins, as in Kafka. An unknown key or a
 * value that does not parse is an error naming where it came from:
 *
 *   server.properties:12: unknown key 'log.flush.polcy'
 *   server.properties:3: bad value 'abc' for 'num.partitions': expected an
 *   integer in [1, 10000]
 *
 * Value syntax by type:
 *   INT        decimal integer, optional sign, within [min, max]
 *   SIZE       bytes: 4096, 512KiB, 64MiB, 1GiB, 2TiB (powers of 1024) or
 *              10KB, 10MB, 1GB, 1TB (powers of 1000); optional "B";
 *              units are case-insensitive except that "i" marks binary
 *   MS         duration in ms: 500ms, 30s, 5m, 1h, 7d; a plain number is ms
 *   BOOL       true or false (case-insensitive)
 *   STR        anything, possibly empty
 *   ENUM       one of the words in `choices` ("none|gzip|zstd")
 *   ENDPOINTS  host:port[,host:port...]; IPv6 as [::1]:9092
 *   VOTERS     id@host:port[,...] (controller.quorum.voters); ids unique
 * For SIZE and MS, [min, max] bounds the value (min == max == 0: any
 * value); for ENDPOINTS and VOTERS, min is the least number of entries.
 *
 * Getters take the key by name and assert that the schema has it with that
 * type: asking for an undeclared key is our bug, not the user's.
 * Runs on: one thread at a time (a process loads it at start-up, then only
 * reads).
 */
#ifndef ST_CONFIG_H
#define ST_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum st_conf_type {
    ST_CONF_INT,
    ST_CONF_SIZE,
    ST_CONF_MS,
    ST_CONF_BOOL,
    ST_CONF_STR,
    ST_CONF_ENUM,
    ST_CONF_ENDPOINTS,
    ST_CONF_VOTERS,
};

enum {
    ST_CONF_REQUIRED = 1 << 0, /* no default: st_conf_check_required() */
    ST_CONF_SECRET = 1 << 1,   /* dumped as "[hidden]" */
};

/* One key of a schema. A schema is an array ended by an entry whose name
 * is NULL; it is borrowed and must outlive every st_conf made from it. */
struct st_conf_key {
    const char *name;
    enum st_conf_type type;
    const char *def;     /* default, in file syntax; NULL with REQUIRED */
    int64_t min, max;    /* see the top of this file */
    const char *choices; /* ENUM: "a|b|c" */
    unsigned flags;
    const char *doc;     /* one line, for --help and dumps */
};

/* A parsed host:port, with the id of an `id@host:port` (else -1). */
struct st_endpoint {
    int32_t id;
    uint16_t port;
    char host[256]; /* without IPv6 brackets */
};

struct st_endpoints {
    struct st_endpoint *v;
    size_t n;
};

struct st_conf;

/* A configuration holding every key's default. A default that does not
 * parse, or a duplicate key, is our bug and asserts.
 * Errors: ST_ENOMEM. Ownership: *out is the caller's; st_conf_free() it. */
int st_conf_new(const struct st_conf_key *schema, struct st_conf **out);
void st_conf_free(struct st_conf *c); /* NULL-safe */

/* Parse the properties file @path (named as given in messages) and set
 * every key in it. Stops at the first error: ST_ECONFIG with the message in
 * @err (@cap bytes, always NUL-terminated), including a file that cannot be
 * read ("x.properties: cannot read: No such file or directory"). Keys set
 * before the error keep their new values. Errors: ST_ECONFIG, ST_ENOMEM. */
int st_conf_load_file(struct st_conf *c, const char *path, char *err,
                      size_t cap);

/* The same for the @len bytes at @buf, named @name in messages (the fuzz
 * target and tests use it). @buf need not be NUL-terminated. */
int st_conf_load_buf(struct st_conf *c, const char *name, const char *buf,
                     size_t len, char *err, size_t cap);

/* Set @key to @value (both trimmed), remembering @origin ("command line",
 * "server.properties:12"; copied) for messages and dumps.
 * Errors: ST_ECONFIG ("<origin>: unknown key 'k'" / "<origin>: bad value
 * ..."), ST_ENOMEM. */
int st_conf_set(struct st_conf *c, const char *key, const char *value,
                const char *origin, char *err, size_t cap);

/* Set from one "key=value" argument (the text after --set).
 * Errors: ST_ECONFIG (no '=' or as st_conf_set), ST_ENOMEM. */
int st_conf_set_arg(struct st_conf *c, const char *arg, const char *origin,
                    char *err, size_t cap);

/* ST_ECONFIG naming the first REQUIRED key that was never set. */
int st_conf_check_required(struct st_conf *c, char *err, size_t cap);

/* Cross-key rules a process checks after loading (may be NULL). */
typedef int (*st_conf_rules_fn)(const struct st_conf *c, char *err,
                                size_t cap);

/* A daemon's whole start-up load: defaults of @schema, then the file @path,
 * then each "key=value" of @sets (origin "--set"; later ones win), then the
 * REQUIRED keys, then @rules. Errors: as the steps above, with @err saying
 * which key and where; *out is untouched. Ownership: *out is the caller's
 * (st_conf_free). */
int st_conf_load_all(const struct st_conf_key *schema, const char *path,
                     char *const *sets, size_t n_sets, st_conf_rules_fn rules,
                     struct st_conf **out, char *err, size_t cap);

/* Typed getters. The key must be in the schema with a matching type
 * (INT; SIZE; MS; BOOL; STR or ENUM; ENDPOINTS or VOTERS). A REQUIRED key
 * never set reads as 0, false, "" or no endpoints. Returned pointers are
 * borrowed and valid until the key is set again or @c is freed. */
int64_t st_conf_int(const struct st_conf *c, const char *key);
uint64_t st_conf_size(const struct st_conf *c, const char *key);
uint64_t st_conf_ms(const struct st_conf *c, const char *key);
bool st_conf_bool(const struct st_conf *c, const char *key);
const char *st_conf_str(const struct st_conf *c, const char *key);
const struct st_endpoints *st_conf_endpoints(const struct st_conf *c,
                                             const char *key);

/* Where @key's value came from: "default", "<file>:<line>" or the origin
 * given to st_conf_set(). Borrowed like the getters' strings. */
const char *st_conf_origin(const struct st_conf *c, const char *key);

/* Call @emit once per key in schema order with its effective value as text
 * (sizes and durations in the largest exact unit, secrets "[hidden]") and
 * its origin. For logging at start-up. */
void st_conf_dump(const struct st_conf *c,
                  void (*emit)(void *arg, const char *key, const char *value,
                               const char *origin),
                  void *arg);

/* Log every key at INFO through common/diag.h, one line each:
 * "<component> config key=value origin=<origin>" (secrets hidden). */
void st_conf_log(const struct st_conf *c, const char *component);

/* Write the effective configuration as a properties file that
 * st_conf_load_file() reads back (secrets excepted): a "# <doc>" and
 * "# from <origin>" comment above each `key=value`. For --print-config. */
void st_conf_print(const struct st_conf *c, FILE *out);

/* Format @bytes as the largest exact binary unit ("64MiB", "4097") and
 * @ms as the largest exact duration unit ("5m", "1500ms"). */
void st_conf_format_size(uint64_t bytes, char *out, size_t cap);
void st_conf_format_ms(uint64_t ms, char *out, size_t cap);

#endif
