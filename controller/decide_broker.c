/* Deciding broker lifecycle changes: registration, heartbeats (fence and
 * unfence), session timeouts, unregistration and producer-id blocks. */
#include <string.h>

#include "common/alloc.h"
#include "common/err.h"
#include "controller/decide_int.h"

static int push_fence(struct st_meta_recs *out, int32_t id, int64_t epoch,
                      bool fence)
{
    Strata__Meta__FenceBroker f = STRATA__META__FENCE_BROKER__INIT;
    Strata__Meta__UnfenceBroker u = STRATA__META__UNFENCE_BROKER__INIT;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    if (fence) {
        f.broker_id = id;
        f.broker_epoch = epoch;
        r.body_case = STRATA__META__METADATA_RECORD__BODY_FENCE_BROKER;
        r.fence_broker = &f;
    } else {
        u.broker_id = id;
        u.broker_epoch = epoch;
        r.body_case = STRATA__META__METADATA_RECORD__BODY_UNFENCE_BROKER;
        r.unfence_broker = &u;
    }
    return stdec_push(out, &r);
}

static int push_register(struct st_meta_recs *out,
                         const struct st_meta_register *req)
{
    size_t n = req->n_listeners;
    Strata__Meta__Listener *l = st_calloc(n + 1, sizeof *l);
    Strata__Meta__Listener **lp = st_calloc(n + 1, sizeof *lp);
    int rv = ST_ENOMEM;
    if (l != NULL && lp != NULL) {
        for (size_t i = 0; i < n; i++) {
            strata__meta__listener__init(&l[i]);
            l[i].name = req->listeners[i].name;
            l[i].host = req->listeners[i].host;
            l[i].port = req->listeners[i].port;
            lp[i] = &l[i];
        }
        Strata__Meta__RegisterBroker rb = STRATA__META__REGISTER_BROKER__INIT;
        rb.broker_id = req->broker_id;
        rb.listeners = lp;
        rb.n_listeners = n;
        rb.rack = req->rack ? (char *)req->rack : "";
        rb.incarnation_id.data = (uint8_t *)req->incarnation;
        rb.incarnation_id.len = ST_META_UUID_LEN;
        Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
        r.body_case = STRATA__META__METADATA_RECORD__BODY_REGISTER_BROKER;
        r.register_broker = &rb;
        rv = stdec_push(out, &r);
    }
    st_free(l);
    st_free(lp);
    return rv;
}

int st_meta_decide_register_broker(const struct st_meta *m,
                                   const struct st_meta_register *req,
                                   struct st_meta_recs *out, int64_t *epoch,
                                   struct st_meta_err *err)
{
    static const uint8_t zero[ST_META_UUID_LEN];
    stdec_ok(err);
    *epoch = -1;
    if (req->broker_id < 0 ||
        memcmp(req->incarnation, zero, ST_META_UUID_LEN) == 0) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "registration needs a broker id >= 0 and a "
                          "non-zero incarnation id (broker %d)",
                          (int)req->broker_id);
    }
    for (size_t i = 0; i < req->n_listeners; i++) {
        if (req->listeners[i].name == NULL || req->listeners[i].host == NULL) {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "broker %d: listener %zu lacks a name or host",
                              (int)req->broker_id, i);
        }
    }
    const struct st_meta_broker *b = st_meta_broker_find(m, req->broker_id);
    if (b == NULL) {
        return push_register(out, req);
    }
    if (memcmp(b->incarnation, req->incarnation, ST_META_UUID_LEN) == 0) {
        *epoch = b->epoch; /* a retry of the registration that holds */
        return 0;
    }
    for (unsigned i = 0; i < b->n_retired; i++) {
        if (memcmp(b->retired[i], req->incarnation, ST_META_UUID_LEN) == 0) {
            return stdec_fail(err, ST_ESTALE,
                              STRATA__ERROR_CODE__STALE_BROKER_EPOCH,
                              "broker %d: this incarnation was replaced by a "
                              "newer one",
                              (int)req->broker_id);
        }
    }
    if (!b->fenced && req->session_alive) {
        return stdec_fail(err, ST_EEXIST, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "broker id %d is held by another live incarnation "
                          "(duplicate broker id?)",
                          (int)req->broker_id);
    }
    /* The old incarnation is gone: the new registration starts fenced, so
     * its leaderships move now, not at the session timeout. */
    int rv = push_register(out, req);
    if (rv == 0) {
        struct stdec_live lv = {.dead = &req->broker_id, .n_dead = 1};
        rv = stdec_repair(m, &lv, out);
    }
    return rv;
}

int st_meta_decide_heartbeat(const struct st_meta *m, int32_t broker_id,
                             int64_t broker_epoch, bool want_fence,
                             bool caught_up, struct st_meta_recs *out,
                             bool *fenced, struct st_meta_err *err)
{
    int rv;
    stdec_ok(err);
    const struct st_meta_broker *b =
        stdec_broker(m, broker_id, broker_epoch, &rv, err);
    if (b == NULL) {
        return rv;
    }
    *fenced = b->fenced;
    struct stdec_live lv = {0};
    if (b->fenced && !want_fence && caught_up) {
        lv.alive = &broker_id;
        lv.n_alive = 1;
        *fenced = false;
    } else if (!b->fenced && want_fence) {
        lv.dead = &broker_id;
        lv.n_dead = 1;
        *fenced = true;
    } else {
        return 0;
    }
    rv = push_fence(out, broker_id, broker_epoch, *fenced);
    if (rv == 0) {
        rv = stdec_repair(m, &lv, out);
    }
    return rv;
}

int st_meta_decide_session_timeouts(const struct st_meta *m, uint64_t now_ms,
                                    uint64_t session_timeout_ms,
                                    const struct st_meta_heartbeat_time *hb,
                                    size_t n_hb, struct st_meta_recs *out)
{
    int32_t *dead = st_calloc(n_hb + 1, sizeof *dead);
    if (dead == NULL) {
        return ST_ENOMEM;
    }
    size_t n_dead = 0;
    int rv = 0;
    for (size_t i = 0; rv == 0 && i < n_hb; i++) {
        const struct st_meta_broker *b = st_meta_broker_find(m, hb[i].broker_id);
        if (b == NULL || b->fenced || hb[i].last_ms > now_ms ||
            now_ms - hb[i].last_ms < session_timeout_ms) {
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < n_dead; j++) {
            seen |= dead[j] == b->id;
        }
        if (!seen) {
            dead[n_dead++] = b->id;
            rv = push_fence(out, b->id, b->epoch, true);
        }
    }
    if (rv == 0 && n_dead > 0) {
        struct stdec_live lv = {.dead = dead, .n_dead = n_dead};
        rv = stdec_repair(m, &lv, out);
    }
    st_free(dead);
    return rv;
}

int st_meta_decide_unregister_broker(const struct st_meta *m,
                                     int32_t broker_id, int64_t broker_epoch,
                                     struct st_meta_recs *out,
                                     struct st_meta_err *err)
{
    int rv;
    stdec_ok(err);
    const struct st_meta_broker *b =
        stdec_broker(m, broker_id, broker_epoch, &rv, err);
    if (b == NULL) {
        return rv;
    }
    if (!b->fenced) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "broker %d is unfenced; fence it (controlled "
                          "shutdown) before unregistering",
                          (int)broker_id);
    }
    Strata__Meta__UnregisterBroker u = STRATA__META__UNREGISTER_BROKER__INIT;
    u.broker_id = broker_id;
    u.broker_epoch = broker_epoch;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_UNREGISTER_BROKER;
    r.unregister_broker = &u;
    rv = stdec_push(out, &r);
    if (rv == 0) {
        struct stdec_live lv = {.dead = &broker_id, .n_dead = 1};
        rv = stdec_repair(m, &lv, out);
    }
    return rv;
}

int st_meta_decide_alloc_producer_ids(const struct st_meta *m,
                                      int32_t broker_id, int64_t broker_epoch,
                                      int32_t size, struct st_meta_recs *out,
                                      int64_t *start, struct st_meta_err *err)
{
    int rv;
    stdec_ok(err);
    const struct st_meta_broker *b =
        stdec_broker(m, broker_id, broker_epoch, &rv, err);
    if (b == NULL) {
        return rv;
    }
    if (b->fenced) {
        return stdec_fail(err, ST_EFENCED, STRATA__ERROR_CODE__BROKER_FENCED,
                          "broker %d is fenced", (int)broker_id);
    }
    if (size < 1) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "producer id block size must be >= 1, not %d",
                          (int)size);
    }
    int64_t next = st_meta_next_producer_id(m);
    if (next > INT64_MAX - size) {
        return stdec_fail(err, ST_ERANGE, STRATA__ERROR_CODE__UNKNOWN,
                          "producer ids are exhausted");
    }
    Strata__Meta__ProducerIdBlock p = STRATA__META__PRODUCER_ID_BLOCK__INIT;
    p.start = next;
    p.size = size;
    p.broker_id = broker_id;
    p.broker_epoch = broker_epoch;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_PRODUCER_ID_BLOCK;
    r.producer_id_block = &p;
    rv = stdec_push(out, &r);
    *start = next;
    return rv;
}
