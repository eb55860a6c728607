/* TLS 1.3 contexts for strata's mutual TLS, and the text of TLS failures.
 *
 * A context is made once per listener or per client configuration from PEM
 * files: the CA that signs every peer, this process's certificate (chain) and
 * its private key. Servers can require a client certificate (mutual TLS);
 * clients always verify the server against the CA and against the host name
 * or IP address they dialled (subjectAltName). Only TLS 1.3 is offered.
 *
 * Every failure is described in text that names the file involved and
 * OpenSSL's reason, e.g. "certificate verify failed against CA /etc/s/ca.pem:
 * unable to get local issuer certificate (peer CN=rogue)". This is the only
 * file that reads OpenSSL's error queue (ERR_get_error).
 *
 * Runs on: any thread; a context may be shared by many connections of one
 * event loop, and (OpenSSL contexts being thread-safe) by several loops.
 */
#ifndef ST_TLS_H
#define ST_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Room for a failure description; longer text is cut. */
#define ST_TLS_ERR_BYTES 512

enum st_tls_role { ST_TLS_SERVER, ST_TLS_CLIENT };

struct st_tls_files {
    const char *ca_file;   /* PEM CA certificate(s) peers are verified with */
    const char *cert_file; /* PEM certificate chain; NULL: present none */
    const char *key_file;  /* PEM private key of cert_file */
};

struct st_tls_ctx;

/* Make a context for @role from @files (paths are copied).
 * Servers: @require_peer_cert demands and verifies a client certificate
 * (mutual TLS); when false a presented certificate is still verified.
 * Servers need cert_file and key_file. Clients ignore @require_peer_cert:
 * they always verify the server.
 * Errors: ST_EINVAL (a needed file not given), ST_ETLS (a file unreadable or
 * not PEM, key does not match certificate...) with @err (@err_cap bytes,
 * may be NULL) naming the file and OpenSSL's reason.
 * Ownership: *out is the caller's; st_tls_ctx_free() it after every
 * connection made from it is gone. */
int st_tls_ctx_new(enum st_tls_role role, const struct st_tls_files *files,
                   bool require_peer_cert, struct st_tls_ctx **out, char *err,
                   size_t err_cap);
/* NULL-safe. */
void st_tls_ctx_free(struct st_tls_ctx *ctx);

/* A new SSL object for one connection. Clients pass the @peer_host they
 * dial (a DNS name or an IP address literal): it is sent as SNI (names only)
 * and the server certificate must carry it in its subjectAltName. Servers
 * pass NULL. Errors: ST_ENOMEM, ST_ETLS (text in @err).
 * Ownership: *out is the caller's (usually handed to a bufferevent). */
int st_tls_ssl_new(struct st_tls_ctx *ctx, const char *peer_host, SSL **out,
                   char *err, size_t err_cap);

/* The peer's identity from its verified certificate: subject CN and the
 * subjectAltNames as "DNS:node1,DNS:localhost,IP:127.0.0.1". Empty strings
 * when the peer presented no certificate. */
struct st_tls_peer {
    char cn[128];
    char sans[384];
};
void st_tls_peer_get(SSL *ssl, struct st_tls_peer *out);

/* Describe why the TLS connection @ssl (made from @ctx; may be NULL) failed,
 * into @out (@cap bytes). @errs are the OpenSSL error codes the connection
 * collected (for libevent: bufferevent_get_openssl_error()), oldest first;
 * the thread's own error queue is read and cleared too. When the peer's
 * certificate failed verification the text gives the CA file and
 * X509_verify_cert_error_string(); when the peer rejected ours it names
 * our certificate file. Returns @out. */
const char *st_tls_describe(struct st_tls_ctx *ctx, SSL *ssl,
                            const unsigned long *errs, size_t n_errs,
                            char *out, size_t cap);

#endif
