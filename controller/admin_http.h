/* The controller's admin HTTP endpoint (libevent evhttp): GET /metrics in
 * Prometheus text format (Raft term, role, commit and last index, applied
 * offset, requests by API, ...) and GET /health (200 "ok" when this voter
 * knows a quorum leader, 503 otherwise). Plain HTTP on the admin listener:
 * bind it to loopback or a management network.
 * Runs on: the loop thread. */
#ifndef ST_CTL_ADMIN_HTTP_H
#define ST_CTL_ADMIN_HTTP_H

#include <stdint.h>

struct event_base;
struct st_raft_driver;
struct st_ctl_service;
struct st_ctl_admin;

/* Listen on @host:@port. Errors: ST_ENOMEM, ST_EIO (bind failed).
 * Ownership: *out is the caller's; st_ctl_admin_free() it. @d and @s are
 * borrowed and must outlive it. */
int st_ctl_admin_new(struct event_base *base, const char *host, uint16_t port,
                     struct st_raft_driver *d, struct st_ctl_service *s,
                     struct st_ctl_admin **out);
void st_ctl_admin_free(struct st_ctl_admin *a); /* NULL-safe */

#endif
