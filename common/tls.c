/* TLS 1.3 contexts and failure text: see tls.h. */
#include "common/tls.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/alloc.h"
#include "common/err.h"

struct st_tls_ctx {
    SSL_CTX *ssl_ctx;
    enum st_tls_role role;
    char *ca_file;
    char *cert_file; /* NULL when no certificate is presented */
};

/* Append printf-style text to @out (@cap bytes) after what is there. */
static void appendf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *out, size_t cap, const char *fmt, ...)
{
    size_t used = strnlen(out, cap);
    if (used + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, cap - used, fmt, ap);
    va_end(ap);
}

/* One OpenSSL error code as "reason (lib)", the part humans read. */
static void append_err_code(char *out, size_t cap, unsigned long code)
{
    const char *reason = ERR_reason_error_string(code);
    const char *lib = ERR_lib_error_string(code);
    if (reason != NULL) {
        appendf(out, cap, "%s%s%s%s", reason, lib ? " (" : "", lib ? lib : "",
                lib ? ")" : "");
    } else {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        appendf(out, cap, "%s", buf);
    }
}

/* Drain this thread's OpenSSL error queue into @out as "; "-separated text. */
static void append_err_queue(char *out, size_t cap)
{
    unsigned long code;
    bool first = true;
    while ((code = ERR_get_error()) != 0) {
        appendf(out, cap, "%s", first ? "" : "; ");
        append_err_code(out, cap, code);
        first = false;
    }
    if (first) {
        appendf(out, cap, "no OpenSSL reason given");
    }
}

static void set_err(char *err, size_t cap, const char *what, const char *file)
{
    if (err == NULL || cap == 0) {
        ERR_clear_error();
        return;
    }
    err[0] = '\0';
    appendf(err, cap, "%s %s: ", what, file);
    append_err_queue(err, cap);
}

/* A missing or unreadable file gets the OS reason, clearer than OpenSSL's. */
static int check_readable(const char *what, const char *file, char *err,
                          size_t cap)
{
    if (access(file, R_OK) == 0) {
        return 0;
    }
    if (err != NULL && cap > 0) {
        snprintf(err, cap, "cannot read %s %s: %s", what, file,
                 strerror(errno));
    }
    return ST_ETLS;
}

static int load_files(struct st_tls_ctx *t, const struct st_tls_files *files,
                      char *err, size_t cap)
{
    SSL_CTX *c = t->ssl_ctx;
    if (check_readable("CA file", files->ca_file, err, cap) != 0) {
        return ST_ETLS;
    }
    if (SSL_CTX_load_verify_locations(c, files->ca_file, NULL) != 1) {
        set_err(err, cap, "loading CA file", files->ca_file);
        return ST_ETLS;
    }
    if (files->cert_file == NULL) {
        return 0;
    }
    if (check_readable("certificate file", files->cert_file, err, cap) != 0 ||
        check_readable("key file", files->key_file, err, cap) != 0) {
        return ST_ETLS;
    }
    if (SSL_CTX_use_certificate_chain_file(c, files->cert_file) != 1) {
        set_err(err, cap, "loading certificate file", files->cert_file);
        return ST_ETLS;
    }
    if (SSL_CTX_use_PrivateKey_file(c, files->key_file, SSL_FILETYPE_PEM) !=
        1) {
        set_err(err, cap, "loading key file", files->key_file);
        return ST_ETLS;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        if (err != NULL && cap > 0) {
            snprintf(err, cap, "key file %s does not match certificate %s: ",
                     files->key_file, files->cert_file);
            append_err_queue(err, cap);
        }
        return ST_ETLS;
    }
    return 0;
}

int st_tls_ctx_new(enum st_tls_role role, const struct st_tls_files *files,
                   bool require_peer_cert, struct st_tls_ctx **out, char *err,
                   size_t err_cap)
{
    if (err != NULL && err_cap > 0) {
        err[0] = '\0';
    }
    if (files->ca_file == NULL ||
        (files->cert_file == NULL) != (files->key_file == NULL) ||
        (role == ST_TLS_SERVER && files->cert_file == NULL)) {
        if (err != NULL && err_cap > 0) {
            snprintf(err, err_cap, "TLS needs a CA file, and a certificate "
                                   "with its key (a server always)");
        }
        return ST_EINVAL;
    }
    struct st_tls_ctx *t = st_calloc(1, sizeof *t);
    if (t == NULL) {
        return ST_ENOMEM;
    }
    int rv = ST_ENOMEM;
    t->role = role;
    t->ca_file = st_strdup(files->ca_file);
    t->cert_file = files->cert_file ? st_strdup(files->cert_file) : NULL;
    if (t->ca_file == NULL || (files->cert_file && t->cert_file == NULL)) {
        goto err_after_alloc;
    }
    ERR_clear_error();
    t->ssl_ctx = SSL_CTX_new(role == ST_TLS_SERVER ? TLS_server_method()
                                                   : TLS_client_method());
    if (t->ssl_ctx == NULL) {
        set_err(err, err_cap, "creating TLS context for", files->ca_file);
        rv = ST_ETLS;
        goto err_after_alloc;
    }
    SSL_CTX_set_min_proto_version(t->ssl_ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(t->ssl_ctx, TLS1_3_VERSION);
    /* Our clients do not resume sessions: do not send tickets. */
    SSL_CTX_set_num_tickets(t->ssl_ctx, 0);
    /* No SSL_MODE_ENABLE_PARTIAL_WRITE: libevent's SSL writer moves on to
     * its next chunk after a short write, which would reorder the stream. */
    SSL_CTX_set_mode(t->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                     SSL_MODE_RELEASE_BUFFERS |
                                     /* send cert_file's chain as given,
                                      * not the root from the CA file */
                                     SSL_MODE_NO_AUTO_CHAIN);
    int mode = SSL_VERIFY_PEER;
    if (role == ST_TLS_SERVER && require_peer_cert) {
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(t->ssl_ctx, mode, NULL);
    rv = load_files(t, files, err, err_cap);
    if (rv != 0) {
        goto err_after_ctx;
    }
    *out = t;
    return 0;
err_after_ctx:
    SSL_CTX_free(t->ssl_ctx);
err_after_alloc:
    st_free(t->cert_file);
    st_free(t->ca_file);
    st_free(t);
    return rv;
}

void st_tls_ctx_free(struct st_tls_ctx *ctx)
{
    if (ctx == NULL) {
        return;
    }
    SSL_CTX_free(ctx->ssl_ctx);
    st_free(ctx->cert_file);
    st_free(ctx->ca_file);
    st_free(ctx);
}

int st_tls_ssl_new(struct st_tls_ctx *ctx, const char *peer_host, SSL **out,
                   char *err, size_t err_cap)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (ssl == NULL) {
        set_err(err, err_cap, "creating TLS connection with CA",
                ctx->ca_file);
        return ST_ENOMEM;
    }
    if (ctx->role == ST_TLS_CLIENT && peer_host != NULL) {
        unsigned char addr[16];
        bool is_ip = inet_pton(AF_INET, peer_host, addr) == 1 ||
                     inet_pton(AF_INET6, peer_host, addr) == 1;
        int ok;
        if (is_ip) {
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                               peer_host);
        } else {
            ok = SSL_set_tlsext_host_name(ssl, peer_host) == 1 &&
                 SSL_set1_host(ssl, peer_host) == 1;
        }
        if (ok != 1) {
            set_err(err, err_cap, "setting the expected server name",
                    peer_host);
            SSL_free(ssl);
            return ST_ETLS;
        }
    }
    *out = ssl;
    return 0;
}

static void append_name(char *out, size_t cap, const char *kind,
                        const ASN1_STRING *s)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    appendf(out, cap, "%s%s:%.*s", out[0] ? "," : "", kind, n, d);
}

static void append_ip(char *out, size_t cap, const ASN1_OCTET_STRING *s)
{
    char text[INET6_ADDRSTRLEN] = "?";
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);
    if (n == 4) {
        inet_ntop(AF_INET, d, text, sizeof text);
    } else if (n == 16) {
        inet_ntop(AF_INET6, d, text, sizeof text);
    }
    appendf(out, cap, "%sIP:%s", out[0] ? "," : "", text);
}

static void cert_identity(X509 *cert, struct st_tls_peer *out)
{
    X509_NAME *subject = X509_get_subject_name(cert);
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
            X509_NAME_get_entry(subject, i));
        snprintf(out->cn, sizeof out->cn, "%.*s", ASN1_STRING_length(cn),
                 (const char *)ASN1_STRING_get0_data(cn));
    }
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
                                            NULL, NULL);
    for (int k = 0; names != NULL && k < sk_GENERAL_NAME_num(names); k++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, k);
        if (g->type == GEN_DNS) {
            append_name(out->sans, sizeof out->sans, "DNS", g->d.dNSName);
        } else if (g->type == GEN_IPADD) {
            append_ip(out->sans, sizeof out->sans, g->d.iPAddress);
        } else if (g->type == GEN_URI) {
            append_name(out->sans, sizeof out->sans, "URI",
                        g->d.uniformResourceIdentifier);
        }
    }
    GENERAL_NAMES_free(names);
}

void st_tls_peer_get(SSL *ssl, struct st_tls_peer *out)
{
    out->cn[0] = '\0';
    out->sans[0] = '\0';
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert == NULL) {
        return;
    }
    cert_identity(cert, out);
    X509_free(cert);
}

/* Alerts by which a peer says it refused the certificate we presented. */
static bool is_our_cert_refused(unsigned long code)
{
    switch (ERR_GET_REASON(code)) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

static void append_verify_failure(struct st_tls_ctx *ctx, SSL *ssl,
                                  long result, char *out, size_t cap)
{
    appendf(out, cap, "certificate verify failed against CA %s: %s",
            ctx ? ctx->ca_file : "?", X509_verify_cert_error_string(result));
    if (result == X509_V_ERR_HOSTNAME_MISMATCH) {
        const char *host = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
        appendf(out, cap, " (expected %s)", host ? host : "?");
    } else if (result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        char *ip = X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl));
        appendf(out, cap, " (expected %s)", ip ? ip : "?");
        OPENSSL_free(ip);
    }
    struct st_tls_peer peer = {{0}, {0}};
    st_tls_peer_get(ssl, &peer);
    if (peer.cn[0] != '\0' || peer.sans[0] != '\0') {
        appendf(out, cap, " (peer CN=%s SAN=%s)", peer.cn, peer.sans);
    }
}

const char *st_tls_describe(struct st_tls_ctx *ctx, SSL *ssl,
                            const unsigned long *errs, size_t n_errs,
                            char *out, size_t cap)
{
    if (cap == 0) {
        return out;
    }
    out[0] = '\0';
    long result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (result != X509_V_OK) {
        append_verify_failure(ctx, ssl, result, out, cap);
    }
    for (size_t i = 0; i < n_errs; i++) {
        if (ERR_GET_LIB(errs[i]) == 0 &&
            errs[i] <= SSL_ERROR_WANT_CLIENT_HELLO_CB) {
            /* libevent also queues SSL_get_error() values; not reasons. */
            continue;
        }
        appendf(out, cap, "%s", out[0] ? "; " : "");
        if (is_our_cert_refused(errs[i])) {
            appendf(out, cap, "peer refused our certificate %s: ",
                    ctx && ctx->cert_file ? ctx->cert_file : "(none sent)");
        }
        append_err_code(out, cap, errs[i]);
    }
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
        appendf(out, cap, "%s", out[0] ? "; " : "");
        append_err_code(out, cap, code);
    }
    if (out[0] == '\0') {
        appendf(out, cap, "connection closed during or after the handshake "
                          "with no TLS reason");
    }
    return out;
}
