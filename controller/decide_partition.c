/* Deciding AlterPartition: an ISR change asked by the partition leader,
 * checked against the broker epoch, the leader epoch and the partition epoch
 * (KIP-497, KIP-841, KIP-903): a stale request is refused, and a fenced or
 * restarted broker cannot join the ISR. */
#include <string.h>

#include "common/err.h"
#include "controller/decide_int.h"

static bool has(const int32_t *v, int n, int32_t x)
{
    for (int i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

static int check_epochs(const struct st_meta_alter_partition *req,
                        const struct st_meta_partition *p,
                        struct st_meta_err *err)
{
    if (p->leader != req->broker_id) {
        return stdec_fail(err, ST_ENOTLEADER, STRATA__ERROR_CODE__NOT_LEADER,
                          "broker %d does not lead partition %d (leader %d)",
                          (int)req->broker_id, (int)req->partition,
                          (int)p->leader);
    }
    if (req->leader_epoch < p->leader_epoch) {
        return stdec_fail(err, ST_EFENCED,
                          STRATA__ERROR_CODE__FENCED_LEADER_EPOCH,
                          "leader epoch %d is older than %d",
                          (int)req->leader_epoch, (int)p->leader_epoch);
    }
    if (req->leader_epoch > p->leader_epoch) {
        return stdec_fail(err, ST_ESTALE,
                          STRATA__ERROR_CODE__UNKNOWN_LEADER_EPOCH,
                          "leader epoch %d is newer than %d",
                          (int)req->leader_epoch, (int)p->leader_epoch);
    }
    if (req->partition_epoch != p->partition_epoch) {
        return stdec_fail(err, ST_ESTALE, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "stale partition epoch %d, current is %d",
                          (int)req->partition_epoch, (int)p->partition_epoch);
    }
    return 0;
}

static int check_isr(const struct st_meta *m,
                     const struct st_meta_alter_partition *req,
                     const struct st_meta_partition *p,
                     struct st_meta_err *err)
{
    const int32_t *isr = req->new_isr;
    int n = req->n_new_isr;
    if (n < 1 || isr == NULL || !has(isr, n, req->broker_id)) {
        return stdec_fail(err, ST_EINVAL, STRATA__ERROR_CODE__INVALID_REQUEST,
                          "the new ISR must be non-empty and hold the leader "
                          "%d",
                          (int)req->broker_id);
    }
    for (int i = 0; i < n; i++) {
        if (!has(p->replicas, p->n_replicas, isr[i]) || has(isr, i, isr[i])) {
            return stdec_fail(err, ST_EINVAL,
                              STRATA__ERROR_CODE__INVALID_REQUEST,
                              "ISR member %d is not a replica or is repeated",
                              (int)isr[i]);
        }
        if (has(p->isr, p->n_isr, isr[i])) {
            continue; /* only joining members are checked */
        }
        const struct st_meta_broker *b = st_meta_broker_find(m, isr[i]);
        if (b == NULL || b->fenced) {
            return stdec_fail(err, ST_EFENCED,
                              STRATA__ERROR_CODE__BROKER_FENCED,
                              "broker %d cannot join the ISR: %s",
                              (int)isr[i],
                              b == NULL ? "not registered" : "fenced");
        }
        if (req->new_isr_epochs != NULL && req->new_isr_epochs[i] != b->epoch) {
            return stdec_fail(err, ST_ESTALE,
                              STRATA__ERROR_CODE__STALE_BROKER_EPOCH,
                              "broker %d cannot join the ISR: epoch %lld is "
                              "not the current %lld",
                              (int)isr[i], (long long)req->new_isr_epochs[i],
                              (long long)b->epoch);
        }
    }
    return 0;
}

static bool same_set(const int32_t *a, int na, const int32_t *b, int nb)
{
    if (na != nb) {
        return false;
    }
    for (int i = 0; i < na; i++) {
        if (!has(b, nb, a[i])) {
            return false;
        }
    }
    return true;
}

int st_meta_decide_alter_partition(const struct st_meta *m,
                                   const struct st_meta_alter_partition *req,
                                   struct st_meta_recs *out,
                                   int32_t *new_partition_epoch,
                                   struct st_meta_err *err)
{
    int rv;
    stdec_ok(err);
    const struct st_meta_broker *b =
        stdec_broker(m, req->broker_id, req->broker_epoch, &rv, err);
    if (b == NULL) {
        return rv;
    }
    if (b->fenced) {
        return stdec_fail(err, ST_EFENCED, STRATA__ERROR_CODE__BROKER_FENCED,
                          "broker %d is fenced", (int)req->broker_id);
    }
    const struct st_meta_partition *p =
        st_meta_partition_find(m, req->topic_id, req->partition);
    if (p == NULL) {
        return stdec_fail(err, ST_ENOENT,
                          STRATA__ERROR_CODE__UNKNOWN_TOPIC_OR_PARTITION,
                          "unknown topic id or partition %d",
                          (int)req->partition);
    }
    rv = check_epochs(req, p, err);
    if (rv == 0) {
        rv = check_isr(m, req, p, err);
    }
    if (rv != 0) {
        return rv;
    }
    *new_partition_epoch = p->partition_epoch;
    if (same_set(req->new_isr, req->n_new_isr, p->isr, p->n_isr)) {
        return 0; /* nothing to change: answer with the current epoch */
    }
    Strata__Meta__PartitionChange pc = STRATA__META__PARTITION_CHANGE__INIT;
    pc.topic_id.data = (uint8_t *)req->topic_id;
    pc.topic_id.len = ST_META_UUID_LEN;
    pc.partition = req->partition;
    pc.has_isr = true;
    pc.isr = (int32_t *)req->new_isr;
    pc.n_isr = (size_t)req->n_new_isr;
    Strata__Meta__MetadataRecord r = STRATA__META__METADATA_RECORD__INIT;
    r.body_case = STRATA__META__METADATA_RECORD__BODY_PARTITION_CHANGE;
    r.partition_change = &pc;
    rv = stdec_push(out, &r);
    if (rv == 0) {
        *new_partition_epoch = p->partition_epoch + 1;
    }
    return rv;
}
