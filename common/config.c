/* Typed key=value configuration: parse, validate against a schema, dump. */
#include "config.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "diag.h"
#include "err.h"
#include "vfs.h"

#define SHOW_BYTES_MAX 80 /* how much of a bad value a message quotes */

struct val {
    bool set;
    char *origin; /* owned */
    union {
        int64_t i;
        uint64_t u;
        bool b;
        char *s; /* owned (STR, ENUM) */
        struct st_endpoints eps; /* owned */
    };
};

struct st_conf {
    const struct st_conf_key *schema;
    size_t n;
    struct val *vals;
};

/* ---- messages ---- */

static int fail(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return ST_ECONFIG;
}

/* ---- text helpers ---- */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
           ch == '\f' || ch == '\v';
}

/* Trim [*s, *s + *len) in place. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*s)[*len - 1])) {
        (*len)--;
    }
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static bool eq_nocase(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    if (n != len) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(s[i]) != word[i]) {
            return false;
        }
    }
    return true;
}

/* Leading decimal digits of [s, s+len) as a u64: *used digits consumed.
 * false on no digits or overflow. */
static bool parse_digits(const char *s, size_t len, uint64_t *out,
                         size_t *used)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
        i++;
    }
    *out = v;
    *used = i;
    return i > 0;
}

static bool has_range(const struct st_conf_key *k)
{
    return k->min != 0 || k->max != 0;
}

/* ---- formatting ---- */

void st_conf_format_size(uint64_t bytes, char *out, size_t cap)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20},
        {"KiB", 1ull << 10},
    };
    for (size_t i = 0; bytes != 0 && i < 4; i++) {
        if (bytes % units[i].mul == 0) {
            snprintf(out, cap, "%" PRIu64 "%s", bytes / units[i].mul,
                     units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "%" PRIu64, bytes);
}

void st_conf_format_ms(uint64_t ms, char *out, size_t cap)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
    };
    for (size_t i = 0; ms != 0 && i < 4; i++) {
        if (ms % units[i].mul == 0) {
            snprintf(out, cap, "%" PRIu64 "%s", ms / units[i].mul,
                     units[i].unit);
            return;
        }
    }
    snprintf(out, cap, "%" PRIu64 "ms", ms);
}

/* What a value of @k must look like, for "bad value" messages. */
static void expected(const struct st_conf_key *k, char *out, size_t cap)
{
    char lo[32], hi[32];
    switch (k->type) {
    case ST_CONF_INT:
        if (has_range(k)) {
            snprintf(out, cap, "an integer in [%" PRId64 ", %" PRId64 "]",
                     k->min, k->max);
        } else {
            snprintf(out, cap, "an integer");
        }
        return;
    case ST_CONF_SIZE:
        if (has_range(k)) {
            st_conf_format_size((uint64_t)k->min, lo, sizeof lo);
            st_conf_format_size((uint64_t)k->max, hi, sizeof hi);
            snprintf(out, cap, "a size (4096, 512KiB, 64MiB, 1GiB) in "
                     "[%s, %s]", lo, hi);
        } else {
            snprintf(out, cap, "a size (4096, 512KiB, 64MiB, 1GiB)");
        }
        return;
    case ST_CONF_MS:
        if (has_range(k)) {
            st_conf_format_ms((uint64_t)k->min, lo, sizeof lo);
            st_conf_format_ms((uint64_t)k->max, hi, sizeof hi);
            snprintf(out, cap, "a duration (500ms, 30s, 5m, 1h, 7d) in "
                     "[%s, %s]", lo, hi);
        } else {
            snprintf(out, cap, "a duration (500ms, 30s, 5m, 1h, 7d)");
        }
        return;
    case ST_CONF_BOOL:
        snprintf(out, cap, "true or false");
        return;
    case ST_CONF_STR:
        snprintf(out, cap, "a string");
        return;
    case ST_CONF_ENUM: {
        int n = snprintf(out, cap, "one of: ");
        for (const char *p = k->choices; *p != '\0' && n >= 0 &&
                                         (size_t)n < cap;
             p++) {
            n += snprintf(out + n, cap - (size_t)n, *p == '|' ? ", " : "%c",
                          *p);
        }
        return;
    }
    case ST_CONF_ENDPOINTS:
    case ST_CONF_VOTERS: {
        int n = snprintf(out, cap, "%s",
                         k->type == ST_CONF_VOTERS
                             ? "id@host:port[,id@host:port...] with unique ids"
                             : "host:port[,host:port...]");
        if (k->min > 0 && n >= 0 && (size_t)n < cap) {
            snprintf(out + n, cap - (size_t)n,
                     " (at least %" PRId64 " entr%s)", k->min,
                     k->min == 1 ? "y" : "ies");
        }
        return;
    }
    }
}

/* ---- value parsers: true and *out on success ---- */

static bool parse_int(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    uint64_t v;
    size_t used;
    if (!parse_digits(s, len, &v, &used) || used != len) {
        return false;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) {
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* A number followed by optional blanks and a unit from @units. */
struct unit {
    const char *name; /* lower case */
    uint64_t mul;
};

static bool parse_with_unit(const char *s, size_t len, const struct unit *u,
                            size_t n_units, bool nocase, uint64_t *out)
{
    uint64_t v;
    size_t used;
    if (!parse_digits(s, len, &v, &used)) {
        return false;
    }
    const char *us = s + used;
    size_t ulen = len - used;
    trim(&us, &ulen);
    for (size_t i = 0; i < n_units; i++) {
        bool match = nocase ? eq_nocase(us, ulen, u[i].name)
                            : (strlen(u[i].name) == ulen &&
                               memcmp(us, u[i].name, ulen) == 0);
        if (match) {
            if (u[i].mul != 0 && v > UINT64_MAX / u[i].mul) {
                return false;
            }
            *out = v * u[i].mul;
            return true;
        }
    }
    return false;
}

static bool parse_size(const char *s, size_t len, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1},          {"b", 1},
        {"kib", 1ull << 10}, {"mib", 1ull << 20}, {"gib", 1ull << 30},
        {"tib", 1ull << 40},
        {"kb", 1000ull},  {"mb", 1000000ull}, {"gb", 1000000000ull},
        {"tb", 1000000000000ull},
    };
    return parse_with_unit(s, len, units, sizeof units / sizeof units[0],
                           true, out);
}

static bool parse_ms(const char *s, size_t len, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
        {"d", 86400000},
    };
    return parse_with_unit(s, len, units, sizeof units / sizeof units[0],
                           false, out);
}

static bool parse_enum(const struct st_conf_key *k, const char *s, size_t len)
{
    const char *p = k->choices;
    while (*p != '\0') {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && memcmp(p, s, len) == 0) {
            return true;
        }
        p += n + (end ? 1 : 0);
    }
    return false;
}

static bool host_char_ok(char ch, bool bracketed)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_') {
        return true;
    }
    return bracketed && (ch == ':' || ch == '%');
}

/* "host:port" or "[v6]:port" into @e. */
static bool parse_hostport(const char *s, size_t len, struct st_endpoint *e)
{
    const char *host;
    size_t hlen;
    const char *rest;
    bool bracketed = len > 0 && s[0] == '[';
    if (bracketed) {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            return false;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon == NULL) {
            return false;
        }
        host = s;
        hlen = (size_t)(colon - s);
        rest = colon;
    }
    size_t rlen = len - (size_t)(rest - s);
    if (hlen == 0 || hlen >= sizeof e->host || rlen < 2 || rest[0] != ':') {
        return false;
    }
    if (bracketed && memchr(host, ':', hlen) == NULL) {
        return false; /* brackets are for IPv6 literals only */
    }
    for (size_t i = 0; i < hlen; i++) {
        if (!host_char_ok(host[i], bracketed)) {
            return false;
        }
    }
    uint64_t port;
    size_t used;
    if (!parse_digits(rest + 1, rlen - 1, &port, &used) || used != rlen - 1 ||
        port == 0 || port > 65535) {
        return false;
    }
    memcpy(e->host, host, hlen);
    e->host[hlen] = '\0';
    e->port = (uint16_t)port;
    e->id = -1;
    return true;
}

/* A comma-separated list; with @ids each entry is id@host:port.
 * Errors: ST_ECONFIG (false), ST_ENOMEM. */
static int parse_endpoints(const char *s, size_t len, bool ids,
                           struct st_endpoints *out)
{
    struct st_endpoints eps = {NULL, 0};
    size_t cap = 0;
    int rv = ST_ECONFIG;
    if (len == 0) {
        *out = eps;
        return 0;
    }
    for (;;) {
        const char *comma = memchr(s, ',', len);
        size_t n = comma ? (size_t)(comma - s) : len;
        const char *item = s;
        size_t ilen = n;
        trim(&item, &ilen);
        struct st_endpoint e;
        int32_t id = -1;
        if (ids) {
            const char *at = memchr(item, '@', ilen);
            uint64_t v;
            size_t used;
            if (at == NULL || !parse_digits(item, (size_t)(at - item), &v,
                                            &used) ||
                used != (size_t)(at - item) || v > INT32_MAX) {
                goto err;
            }
            id = (int32_t)v;
            ilen -= used + 1;
            item = at + 1;
        }
        if (!parse_hostport(item, ilen, &e)) {
            goto err;
        }
        e.id = id;
        for (size_t i = 0; ids && i < eps.n; i++) {
            if (eps.v[i].id == id) {
                goto err;
            }
        }
        if (eps.n == cap) {
            cap = cap ? cap * 2 : 4;
            struct st_endpoint *nv = st_realloc(eps.v, cap * sizeof *nv);
            if (nv == NULL) {
                rv = ST_ENOMEM;
                goto err;
            }
            eps.v = nv;
        }
        eps.v[eps.n++] = e;
        if (comma == NULL) {
            break;
        }
        len -= n + 1;
        s = comma + 1;
    }
    *out = eps;
    return 0;
err:
    st_free(eps.v);
    return rv;
}

/* ---- values ---- */

static void val_clear(const struct st_conf_key *k, struct val *v)
{
    if (k->type == ST_CONF_STR || k->type == ST_CONF_ENUM) {
        st_free(v->s);
    } else if (k->type == ST_CONF_ENDPOINTS || k->type == ST_CONF_VOTERS) {
        st_free(v->eps.v);
    }
    st_free(v->origin);
    memset(v, 0, sizeof *v);
}

/* Parse @s into @out for @k. ST_ECONFIG (no message) or ST_ENOMEM. */
static int parse_value(const struct st_conf_key *k, const char *s,
                       size_t len, struct val *out)
{
    switch (k->type) {
    case ST_CONF_INT:
        if (!parse_int(s, len, &out->i) ||
            (has_range(k) && (out->i < k->min || out->i > k->max))) {
            return ST_ECONFIG;
        }
        return 0;
    case ST_CONF_SIZE:
    case ST_CONF_MS: {
        bool ok = k->type == ST_CONF_SIZE ? parse_size(s, len, &out->u)
                                          : parse_ms(s, len, &out->u);
        if (!ok || (has_range(k) && (out->u < (uint64_t)k->min ||
                                     out->u > (uint64_t)k->max))) {
            return ST_ECONFIG;
        }
        return 0;
    }
    case ST_CONF_BOOL:
        if (eq_nocase(s, len, "true")) {
            out->b = true;
        } else if (eq_nocase(s, len, "false")) {
            out->b = false;
        } else {
            return ST_ECONFIG;
        }
        return 0;
    case ST_CONF_ENUM:
        if (!parse_enum(k, s, len)) {
            return ST_ECONFIG;
        }
        /* fall through */
    case ST_CONF_STR:
        if (memchr(s, '\0', len) != NULL) {
            return ST_ECONFIG;
        }
        out->s = st_malloc(len + 1);
        if (out->s == NULL) {
            return ST_ENOMEM;
        }
        memcpy(out->s, s, len);
        out->s[len] = '\0';
        return 0;
    case ST_CONF_ENDPOINTS:
    case ST_CONF_VOTERS: {
        int rv = parse_endpoints(s, len, k->type == ST_CONF_VOTERS,
                                 &out->eps);
        if (rv == 0 && out->eps.n < (size_t)(k->min > 0 ? k->min : 0)) {
            st_free(out->eps.v);
            out->eps.v = NULL;
            rv = ST_ECONFIG;
        }
        return rv;
    }
    }
    return ST_ECONFIG;
}

static long find_key(const struct st_conf *c, const char *key, size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strlen(c->schema[i].name) == len &&
            memcmp(c->schema[i].name, key, len) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Show at most SHOW_BYTES_MAX bytes of a value, '?' for bytes that are not
 * printable ASCII. */
static void show(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < cap && i < SHOW_BYTES_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (len > SHOW_BYTES_MAX && n + 4 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int set_n(struct st_conf *c, const char *key, size_t klen,
                 const char *value, size_t vlen, const char *origin,
                 char *err, size_t cap)
{
    char shown[SHOW_BYTES_MAX + 8];
    trim(&key, &klen);
    trim(&value, &vlen);
    long i = find_key(c, key, klen);
    if (i < 0) {
        show(key, klen, shown, sizeof shown);
        return fail(err, cap, "%s: unknown key '%s'", origin, shown);
    }
    const struct st_conf_key *k = &c->schema[i];
    struct val v;
    memset(&v, 0, sizeof v);
    int rv = parse_value(k, value, vlen, &v);
    if (rv == ST_ENOMEM) {
        (void)fail(err, cap, "%s: out of memory", origin);
        return ST_ENOMEM;
    }
    if (rv != 0) {
        char exp[256];
        expected(k, exp, sizeof exp);
        show(value, vlen, shown, sizeof shown);
        return fail(err, cap, "%s: bad value '%s' for '%s': expected %s",
                    origin, k->flags & ST_CONF_SECRET ? "[hidden]" : shown,
                    k->name, exp);
    }
    v.origin = st_strdup(origin);
    if (v.origin == NULL) {
        val_clear(k, &v);
        (void)fail(err, cap, "%s: out of memory", origin);
        return ST_ENOMEM;
    }
    v.set = true;
    val_clear(k, &c->vals[i]);
    c->vals[i] = v;
    return 0;
}

/* ---- public ---- */

int st_conf_new(const struct st_conf_key *schema, struct st_conf **out)
{
    struct st_conf *c = st_calloc(1, sizeof *c);
    if (c == NULL) {
        return ST_ENOMEM;
    }
    c->schema = schema;
    while (schema[c->n].name != NULL) {
        c->n++;
    }
    c->vals = st_calloc(c->n ? c->n : 1, sizeof *c->vals);
    if (c->vals == NULL) {
        st_free(c);
        return ST_ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct st_conf_key *k = &schema[i];
        char err[256];
        assert(find_key(c, k->name, strlen(k->name)) == (long)i);
        assert(k->type != ST_CONF_ENUM || k->choices != NULL);
        if (k->def == NULL) {
            /* No default: the zero value, and unset. */
            c->vals[i].origin = st_strdup("unset");
            if (c->vals[i].origin == NULL) {
                st_conf_free(c);
                return ST_ENOMEM;
            }
            continue;
        }
        int rv = set_n(c, k->name, strlen(k->name), k->def, strlen(k->def),
                       "default", err, sizeof err);
        if (rv == ST_ENOMEM) {
            st_conf_free(c);
            return ST_ENOMEM;
        }
        assert(rv == 0 && "a schema default does not parse");
    }
    *out = c;
    return 0;
}

void st_conf_free(struct st_conf *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n; i++) {
        val_clear(&c->schema[i], &c->vals[i]);
    }
    st_free(c->vals);
    st_free(c);
}

int st_conf_set(struct st_conf *c, const char *key, const char *value,
                const char *origin, char *err, size_t cap)
{
    return set_n(c, key, strlen(key), value, strlen(value), origin, err,
                 cap);
}

int st_conf_set_arg(struct st_conf *c, const char *arg, const char *origin,
                    char *err, size_t cap)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL) {
        char shown[SHOW_BYTES_MAX + 8];
        show(arg, strlen(arg), shown, sizeof shown);
        return fail(err, cap, "%s: expected key=value, got '%s'", origin,
                    shown);
    }
    return set_n(c, arg, (size_t)(eq - arg), eq + 1, strlen(eq + 1), origin,
                 err, cap);
}

int st_conf_load_buf(struct st_conf *c, const char *name, const char *buf,
                     size_t len, char *err, size_t cap)
{
    char origin[512];
    unsigned line = 0;
    size_t pos = 0;
    /* A UTF-8 byte order mark is not part of the first key. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3;
    }
    while (pos < len) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        line++;
        snprintf(origin, sizeof origin, "%s:%u", name, line);
        if (memchr(s, '\0', n) != NULL) {
            return fail(err, cap, "%s: line contains a NUL byte", origin);
        }
        trim(&s, &n);
        if (n == 0 || s[0] == '#') {
            continue;
        }
        const char *eq = memchr(s, '=', n);
        if (eq == NULL) {
            char shown[SHOW_BYTES_MAX + 8];
            show(s, n, shown, sizeof shown);
            return fail(err, cap, "%s: expected key=value, got '%s'", origin,
                        shown);
        }
        size_t klen = (size_t)(eq - s);
        const char *k = s;
        trim(&k, &klen);
        if (klen == 0) {
            return fail(err, cap, "%s: empty key before '='", origin);
        }
        int rv = set_n(c, s, (size_t)(eq - s), eq + 1, n - (size_t)(eq - s) - 1,
                       origin, err, cap);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

int st_conf_load_file(struct st_conf *c, const char *path, char *err,
                      size_t cap)
{
    uint8_t *buf;
    size_t len;
    int rv = st_vfs_read_all(st_vfs_posix(), path, &buf, &len);
    if (rv != 0) {
        return fail(err, cap, "%s: cannot read: %s", path, st_strerror(rv));
    }
    rv = st_conf_load_buf(c, path, (const char *)buf, len, err, cap);
    st_free(buf);
    return rv;
}

int st_conf_check_required(struct st_conf *c, char *err, size_t cap)
{
    for (size_t i = 0; i < c->n; i++) {
        if ((c->schema[i].flags & ST_CONF_REQUIRED) && !c->vals[i].set) {
            return fail(err, cap, "missing required key '%s' (%s)",
                        c->schema[i].name,
                        c->schema[i].doc ? c->schema[i].doc : "no doc");
        }
    }
    return 0;
}

int st_conf_load_all(const struct st_conf_key *schema, const char *path,
                     char *const *sets, size_t n_sets, st_conf_rules_fn rules,
                     struct st_conf **out, char *err, size_t cap)
{
    struct st_conf *c;
    int rv = st_conf_new(schema, &c);
    if (rv != 0) {
        snprintf(err, cap, "out of memory");
        return rv;
    }
    rv = st_conf_load_file(c, path, err, cap);
    for (size_t i = 0; rv == 0 && i < n_sets; i++) {
        rv = st_conf_set_arg(c, sets[i], "--set", err, cap);
    }
    if (rv == 0) {
        rv = st_conf_check_required(c, err, cap);
    }
    if (rv == 0 && rules != NULL) {
        rv = rules(c, err, cap);
    }
    if (rv != 0) {
        st_conf_free(c);
        return rv;
    }
    *out = c;
    return 0;
}

/* Our bug, not the user's: stop even when built with NDEBUG. */
static void schema_bug(const char *key, const char *what)
{
    fprintf(stderr, "config: key '%s' %s\n", key, what);
    abort();
}

static long key_index(const struct st_conf *c, const char *key)
{
    long i = find_key(c, key, strlen(key));
    if (i < 0) {
        schema_bug(key, "is not in the schema");
    }
    return i;
}

static const struct val *get(const struct st_conf *c, const char *key,
                             enum st_conf_type t1, enum st_conf_type t2)
{
    long i = key_index(c, key);
    if (c->schema[i].type != t1 && c->schema[i].type != t2) {
        schema_bug(key, "is read with a getter of another type");
    }
    return &c->vals[i];
}

int64_t st_conf_int(const struct st_conf *c, const char *key)
{
    return get(c, key, ST_CONF_INT, ST_CONF_INT)->i;
}

uint64_t st_conf_size(const struct st_conf *c, const char *key)
{
    return get(c, key, ST_CONF_SIZE, ST_CONF_SIZE)->u;
}

uint64_t st_conf_ms(const struct st_conf *c, const char *key)
{
    return get(c, key, ST_CONF_MS, ST_CONF_MS)->u;
}

bool st_conf_bool(const struct st_conf *c, const char *key)
{
    return get(c, key, ST_CONF_BOOL, ST_CONF_BOOL)->b;
}

const char *st_conf_str(const struct st_conf *c, const char *key)
{
    const char *s = get(c, key, ST_CONF_STR, ST_CONF_ENUM)->s;
    return s != NULL ? s : "";
}

const struct st_endpoints *st_conf_endpoints(const struct st_conf *c,
                                             const char *key)
{
    return &get(c, key, ST_CONF_ENDPOINTS, ST_CONF_VOTERS)->eps;
}

const char *st_conf_origin(const struct st_conf *c, const char *key)
{
    long i = key_index(c, key);
    return c->vals[i].origin != NULL ? c->vals[i].origin : "default";
}

/* The value of key @i as text into @out (truncated to @cap). */
static void value_text(const struct st_conf *c, size_t i, char *out,
                       size_t cap)
{
    const struct st_conf_key *k = &c->schema[i];
    const struct val *v = &c->vals[i];
    out[0] = '\0';
    if (k->flags & ST_CONF_SECRET) {
        snprintf(out, cap, "[hidden]");
        return;
    }
    switch (k->type) {
    case ST_CONF_INT:
        snprintf(out, cap, "%" PRId64, v->i);
        return;
    case ST_CONF_SIZE:
        st_conf_format_size(v->u, out, cap);
        return;
    case ST_CONF_MS:
        st_conf_format_ms(v->u, out, cap);
        return;
    case ST_CONF_BOOL:
        snprintf(out, cap, "%s", v->b ? "true" : "false");
        return;
    case ST_CONF_STR:
    case ST_CONF_ENUM:
        snprintf(out, cap, "%s", v->s ? v->s : "");
        return;
    case ST_CONF_ENDPOINTS:
    case ST_CONF_VOTERS: {
        size_t n = 0;
        for (size_t e = 0; e < v->eps.n && n < cap; e++) {
            const struct st_endpoint *ep = &v->eps.v[e];
            char id[16] = "";
            if (ep->id >= 0) {
                snprintf(id, sizeof id, "%" PRId32 "@", ep->id);
            }
            bool v6 = strchr(ep->host, ':') != NULL;
            int w = snprintf(out + n, cap - n, "%s%s%s%s%s:%u",
                             e > 0 ? "," : "", id, v6 ? "[" : "", ep->host,
                             v6 ? "]" : "", (unsigned)ep->port);
            if (w < 0) {
                return;
            }
            n += (size_t)w;
        }
        return;
    }
    }
}

void st_conf_dump(const struct st_conf *c,
                  void (*emit)(void *arg, const char *key, const char *value,
                               const char *origin),
                  void *arg)
{
    char text[4096];
    for (size_t i = 0; i < c->n; i++) {
        value_text(c, i, text, sizeof text);
        emit(arg, c->schema[i].name, text,
             c->vals[i].origin ? c->vals[i].origin : "default");
    }
}

static void log_one(void *arg, const char *key, const char *value,
                    const char *origin)
{
    ST_INFO((const char *)arg, "config %s=%s origin=%s", key, value, origin);
}

void st_conf_log(const struct st_conf *c, const char *component)
{
    st_conf_dump(c, log_one, (void *)component);
}

static void print_one(void *arg, const char *key, const char *value,
                      const char *origin)
{
    fprintf(arg, "# from %s\n%s=%s\n", origin, key, value);
}

void st_conf_print(const struct st_conf *c, FILE *out)
{
    for (size_t i = 0; i < c->n; i++) {
        char text[4096];
        const struct st_conf_key *k = &c->schema[i];
        value_text(c, i, text, sizeof text);
        if (k->doc != NULL) {
            fprintf(out, "# %s\n", k->doc);
        }
        if (!c->vals[i].set && (k->flags & ST_CONF_REQUIRED)) {
            fprintf(out, "# required, not set\n#%s=\n", k->name);
            continue;
        }
        print_one(out, k->name,
                  text, c->vals[i].origin ? c->vals[i].origin : "default");
    }
}
