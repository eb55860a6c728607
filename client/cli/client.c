/* Client keys for the CLI and ready libstrata handles (client.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/client.h"

#define DEFAULT_TIMEOUT_MS 10000

int cli_fail(const char *what, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* One line, whatever the reason's text held. */
    for (char *p = why; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    fprintf(stderr, "strata: %s: %s\n", what, why);
    return 1;
}

int cli_timeout_ms(const struct cli_opts *o)
{
    return o->timeout_ms ? (int)o->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int cli_global_opt(struct cli_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        o->json = true;
        return 1;
    }
    static const char *const with_value[] = {
        "-b", "--bootstrap", "--config", "--timeout-ms",
        "--bootstrap-controller", "--ca", "--cert", "--key", NULL};
    int k = 0;
    while (with_value[k] != NULL && strcmp(a, with_value[k]) != 0) {
        k++;
    }
    if (with_value[k] == NULL) {
        return 0;
    }
    if (*i + 1 >= argc) {
        cli_fail(a, "needs a value");
        return -1;
    }
    const char *v = argv[++*i];
    switch (k) {
    case 0:
    case 1:
        o->bootstrap = v;
        break;
    case 2:
        o->config_file = v;
        break;
    case 3: {
        char *end;
        unsigned long ms = strtoul(v, &end, 10);
        if (*end != '\0' || ms == 0 || ms > 3600000) {
            cli_fail(a, "bad value '%s': expected 1..3600000", v);
            return -1;
        }
        o->timeout_ms = (uint32_t)ms;
        break;
    }
    case 4:
        o->bootstrap_controller = v;
        break;
    case 5:
        o->ca_file = v;
        break;
    case 6:
        o->cert_file = v;
        break;
    default:
        o->key_file = v;
        break;
    }
    return 1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}

static int add_kv(struct cli_opts *o, const char *k, const char *v)
{
    char **kv = realloc(o->conf_kv, (o->conf_n + 1) * 2 * sizeof *kv);
    if (kv == NULL) {
        return -1;
    }
    o->conf_kv = kv;
    kv[o->conf_n * 2] = strdup(k);
    kv[o->conf_n * 2 + 1] = strdup(v);
    o->conf_n++;
    if (kv[o->conf_n * 2 - 2] == NULL || kv[o->conf_n * 2 - 1] == NULL) {
        return -1;
    }
    return 0;
}

static const char *lookup(const struct cli_opts *o, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < o->conf_n; i++) {
        if (strcmp(o->conf_kv[i * 2], key) == 0) {
            v = o->conf_kv[i * 2 + 1]; /* the last one wins */
        }
    }
    return v;
}

static int read_file(struct cli_opts *o, FILE *f, const char *path,
                     char *err, size_t cap)
{
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        n++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, cap, "%s:%d: expected key=value", path, n);
            return -1;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        int rv = strcmp(k, "bootstrap.controllers") == 0
                     ? ((o->bootstrap_controllers = strdup(v)) ? 0 : -1)
                     : add_kv(o, k, v);
        if (rv != 0) {
            snprintf(err, cap, "%s: out of memory", path);
            return -1;
        }
    }
    return 0;
}

int cli_config_load(struct cli_opts *o, char *err, size_t cap)
{
    const char *path = o->config_file;
    bool explicit = true;
    char home_path[1024];
    if (path == NULL) {
        path = getenv("STRATA_CONFIG");
    }
    if (path == NULL || *path == '\0') {
        const char *home = getenv("HOME");
        if (home == NULL) {
            return 0;
        }
        snprintf(home_path, sizeof home_path,
                 "%s/.config/strata/client.properties", home);
        path = home_path;
        explicit = false;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (!explicit && errno == ENOENT) {
            return 0;
        }
        snprintf(err, cap, "cannot read config file '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    o->conf_path = strdup(path);
    int rv = read_file(o, f, path, err, cap);
    fclose(f);
    if (rv != 0) {
        return rv;
    }
    /* The controller commands take the same TLS files. */
    if (o->ca_file == NULL) {
        o->ca_file = lookup(o, "ssl.ca.location");
    }
    if (o->cert_file == NULL) {
        o->cert_file = lookup(o, "ssl.certificate.location");
    }
    if (o->key_file == NULL) {
        o->key_file = lookup(o, "ssl.key.location");
    }
    if (o->bootstrap_controller == NULL) {
        o->bootstrap_controller = o->bootstrap_controllers;
    }
    return 0;
}

void cli_config_free(struct cli_opts *o)
{
    for (size_t i = 0; i < o->conf_n * 2; i++) {
        free(o->conf_kv[i]);
    }
    free(o->conf_kv);
    free(o->conf_path);
    free(o->bootstrap_controllers);
    o->conf_kv = NULL;
    o->conf_n = 0;
}

static int set(strata_conf_t *c, const char *k, const char *v,
               const char *src, char *err, size_t cap)
{
    char why[512];
    if (strata_conf_set(c, k, v, why, sizeof why) != STRATA_CONF_OK) {
        snprintf(err, cap, "%s%s%s", src ? src : "", src ? ": " : "", why);
        return -1;
    }
    return 0;
}

strata_t *cli_client_open(const struct cli_opts *o, strata_type_t type,
                          const char *const *extra, strata_dr_msg_cb_t dr,
                          void *opaque, char *err, size_t cap)
{
    strata_conf_t *c = strata_conf_new();
    if (c == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < o->conf_n; i++) {
        if (set(c, o->conf_kv[i * 2], o->conf_kv[i * 2 + 1], o->conf_path,
                err, cap) != 0) {
            goto err_after_conf;
        }
    }
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%d", cli_timeout_ms(o));
    if (set(c, "request.timeout.ms", tmo, NULL, err, cap) != 0 ||
        set(c, "client.id", "strata-cli", NULL, err, cap) != 0) {
        goto err_after_conf;
    }
    if (o->bootstrap != NULL &&
        set(c, "bootstrap.servers", o->bootstrap, "-b", err, cap) != 0) {
        goto err_after_conf;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2) {
        if (set(c, extra[i], extra[i + 1], NULL, err, cap) != 0) {
            goto err_after_conf;
        }
    }
    char val[8];
    size_t n = sizeof val;
    if (strata_conf_get(c, "bootstrap.servers", val, &n) == STRATA_CONF_OK &&
        val[0] == '\0') {
        snprintf(err, cap,
                 "no bootstrap servers: give -b HOST:PORT, --config FILE, "
                 "or STRATA_CONFIG (e.g. run/client.properties)");
        goto err_after_conf;
    }
    if (dr != NULL) {
        strata_conf_set_dr_msg_cb(c, dr);
        strata_conf_set_opaque(c, opaque);
    }
    char why[768];
    strata_t *rk = strata_new(type, c, why, sizeof why);
    if (rk == NULL) {
        snprintf(err, cap, "%s", why);
        goto err_after_conf;
    }
    strata_resp_err_t e = strata_wait_ready(rk, cli_timeout_ms(o), why,
                                            sizeof why);
    if (e != STRATA_ERR_NO_ERROR) {
        snprintf(err, cap, "cluster unreachable within %d ms: %s",
                 cli_timeout_ms(o), why);
        strata_destroy(rk);
        return NULL;
    }
    return rk;
err_after_conf:
    strata_conf_destroy(c);
    return NULL;
}

void cli_client_close(strata_t *rk, int timeout_ms)
{
    if (rk == NULL) {
        return;
    }
    strata_close(rk, timeout_ms);
    strata_destroy(rk);
}
