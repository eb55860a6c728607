/* libFuzzer target for the protobuf bodies of the client RPC family
 * (proto/client.proto) and the broker's hand-written protobuf scanner
 * st_pb_controller_info() (broker/wire.h).
 *
 * Byte 0 of an input picks what the rest is:
 *   0..7  a body the broker (requests: Produce, Fetch, ListOffsets,
 *         Metadata) or the client library (their responses) unpacks with
 *         protobuf-c. Whatever unpacks must pack again, and that packing
 *         must unpack and pack to the same bytes (a fixed point after one
 *         round: nothing is lost or invented on the way). Produce and
 *         fetch payload ranges are checked the way the broker and client
 *         check them (offset + length inside the payload, no overflow).
 *   8     a controller-family response body as a forwarding broker sees
 *         it: st_pb_controller_info() answers 0 or ST_ECORRUPT, and when
 *         protobuf-c also unpacks the body as a CreateTopicsResponse with a
 *         controller, both agree on the leader, host and port;
 *   9     a ControllerInfo built from the input, packed inside a
 *         CreateTopicsResponse with other fields: the scanner must find
 *         exactly what was packed.
 * The broker's request handlers themselves are not pure (they look up
 * partitions and answer through the RPC server), so their validation is
 * not reached here; see tests/unit for those.
 *
 * With STRATA_FUZZ_SEED_DIR=<dir> set, the program writes a valid body of
 * each kind there and exits (tests/fuzz/run-fuzz.sh does this once).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/wire.h"
#include "client.pb-c.h"
#include "common/err.h"
#include "controller.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const ProtobufCMessageDescriptor *const descs[8] = {
    &strata__client__produce_request__descriptor,
    &strata__client__fetch_request__descriptor,
    &strata__client__list_offsets_request__descriptor,
    &strata__client__metadata_request__descriptor,
    &strata__client__produce_response__descriptor,
    &strata__client__fetch_response__descriptor,
    &strata__client__list_offsets_response__descriptor,
    &strata__client__metadata_response__descriptor,
};

static struct st_buf b1, b2;

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_client_proto: %s\n", what);
        abort();
    }
}

/* The range check of broker/produce.c and client/lib/fetcher.c. */
static bool range_ok(uint64_t off, uint64_t len, size_t payload)
{
    return off <= payload && len <= payload - off;
}

static void ranges(const ProtobufCMessage *m, size_t payload)
{
    if (m->descriptor == &strata__client__produce_request__descriptor) {
        const Strata__Client__ProduceRequest *r = (const void *)m;
        for (size_t i = 0; i < r->n_partitions; i++) {
            const Strata__Client__ProducePartition *p = r->partitions[i];
            check(p->topic != NULL, "produce partition without a topic");
            if (range_ok(p->payload_offset, p->payload_length, payload)) {
                check(p->payload_offset + p->payload_length <= payload,
                      "an accepted range overflows");
            }
        }
    } else if (m->descriptor == &strata__client__fetch_response__descriptor) {
        const Strata__Client__FetchResponse *r = (const void *)m;
        for (size_t i = 0; i < r->n_partitions; i++) {
            const Strata__Client__FetchPartitionResponse *p = r->partitions[i];
            check(p->topic != NULL, "fetch partition without a topic");
            if (range_ok(p->payload_offset, p->payload_length, payload)) {
                check(p->payload_offset + p->payload_length <= payload,
                      "an accepted range overflows");
            }
        }
    }
}

static void pack(const ProtobufCMessage *m, struct st_buf *out)
{
    check(st_pb_pack(m, out) == 0, "pack");
}

/* Whether @m or a message inside it kept unknown fields. */
static bool has_unknown(const ProtobufCMessage *m)
{
    if (m == NULL) {
        return false;
    }
    if (m->n_unknown_fields > 0) {
        return true;
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *v =
                *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t j = 0; j < n; j++) {
                if (has_unknown(v[j])) {
                    return true;
                }
            }
        } else if (has_unknown(
                       *(ProtobufCMessage *const *)(base + f->offset))) {
            return true;
        }
    }
    return false;
}

static void round_trip(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                       size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
    if (m == NULL) {
        return;
    }
    ranges(m, n);
    pack(m, &b1);
    /* protobuf-c keeps unknown fields it could skip (field number 0, for
     * one) and packs them back into bytes it then refuses. The broker and
     * the client never re-pack what they receive, so the round trip is
     * only required of messages without unknown fields. */
    bool unknown = has_unknown(m);
    protobuf_c_message_free_unpacked(m, NULL);
    m = protobuf_c_message_unpack(d, NULL, b1.len, b1.base);
    if (m == NULL && unknown) {
        return;
    }
    check(m != NULL, "a packed message does not unpack");
    pack(m, &b2);
    protobuf_c_message_free_unpacked(m, NULL);
    check(b1.len == b2.len && memcmp(b1.base, b2.base, b1.len) == 0,
          "packing is not a fixed point after one round");
}

static void scan_raw(const uint8_t *p, size_t n)
{
    struct st_ctl_leader l;
    int rv = st_pb_controller_info((struct st_bytes){p, n}, &l);
    check(rv == 0 || rv == ST_ECORRUPT, "scanner: undocumented code");
    if (rv != 0) {
        return;
    }
    check(memchr(l.host, '\0', sizeof l.host) != NULL, "host not terminated");
    Strata__Ctl__CreateTopicsResponse *r =
        strata__ctl__create_topics_response__unpack(NULL, n, p);
    if (r == NULL || r->controller == NULL) {
        strata__ctl__create_topics_response__free_unpacked(r, NULL);
        return;
    }
    /* protobuf-c merges repeated occurrences of field 1 where the scanner
     * takes the first: compare when the body is the canonical packing of
     * what protobuf-c read (then field 1 occurs once). */
    pack(&r->base, &b1);
    if (b1.len == n && memcmp(b1.base, p, n) == 0) {
        char want[256];
        snprintf(want, sizeof want, "%s", r->controller->host);
        check(l.leader_id == r->controller->leader_id &&
                  l.port == (uint16_t)r->controller->port &&
                  strcmp(l.host, want) == 0,
              "the scanner and protobuf-c disagree on the controller");
    }
    strata__ctl__create_topics_response__free_unpacked(r, NULL);
}

static void scan_built(const uint8_t *p, size_t n)
{
    if (n < 12) {
        return;
    }
    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    ci.leader_id = (int32_t)st_get_be32(p);
    ci.port = st_get_be32(p + 4);
    ci.term = st_get_be32(p + 8);
    char host[300];
    size_t hn = (n - 12) % sizeof host;
    for (size_t i = 0; i < hn; i++) {
        host[i] = p[12 + i] ? (char)p[12 + i] : 'x';
    }
    host[hn] = '\0';
    ci.host = host;
    Strata__Ctl__CreateTopicsResponse r =
        STRATA__CTL__CREATE_TOPICS_RESPONSE__INIT;
    r.controller = &ci;
    pack(&r.base, &b1);
    struct st_ctl_leader l;
    check(st_pb_controller_info((struct st_bytes){b1.base, b1.len}, &l) == 0,
          "the scanner refuses a packed response");
    char want[256];
    snprintf(want, sizeof want, "%s", host);
    check(l.leader_id == ci.leader_id && l.port == (uint16_t)ci.port &&
              strcmp(l.host, want) == 0,
          "the scanner read another controller than was packed");
}

static void write_seed(const char *dir, int sel, const ProtobufCMessage *m)
{
    char path[4096];
    uint8_t s = (uint8_t)sel;
    pack(m, &b1);
    snprintf(path, sizeof path, "%s/client-proto-%d", dir, sel);
    FILE *f = fopen(path, "wb");
    check(f != NULL && fwrite(&s, 1, 1, f) == 1 &&
              fwrite(b1.base, 1, b1.len, f) == b1.len,
          "cannot write a seed");
    fclose(f);
}

static void write_seeds(const char *dir)
{
    Strata__Client__ProducePartition pp =
        STRATA__CLIENT__PRODUCE_PARTITION__INIT;
    Strata__Client__ProducePartition *ppv[1] = {&pp};
    Strata__Client__ProduceRequest pr = STRATA__CLIENT__PRODUCE_REQUEST__INIT;
    pp.topic = "orders";
    pp.partition = 2;
    pp.payload_offset = 0;
    pp.payload_length = 5;
    pr.acks = -1;
    pr.timeout_ms = 3000;
    pr.partitions = ppv;
    pr.n_partitions = 1;
    write_seed(dir, 0, &pr.base);

    Strata__Client__FetchPartition fp = STRATA__CLIENT__FETCH_PARTITION__INIT;
    Strata__Client__FetchPartition *fpv[1] = {&fp};
    Strata__Client__FetchRequest fr = STRATA__CLIENT__FETCH_REQUEST__INIT;
    fp.topic = "orders";
    fp.fetch_offset = 17;
    fp.current_leader_epoch = 3;
    fr.max_wait_ms = 500;
    fr.min_bytes = 1;
    fr.partitions = fpv;
    fr.n_partitions = 1;
    fr.replica_id = -1;
    write_seed(dir, 1, &fr.base);

    Strata__Client__ListOffsetsPartition lp =
        STRATA__CLIENT__LIST_OFFSETS_PARTITION__INIT;
    Strata__Client__ListOffsetsPartition *lpv[1] = {&lp};
    Strata__Client__ListOffsetsRequest lr =
        STRATA__CLIENT__LIST_OFFSETS_REQUEST__INIT;
    lp.topic = "orders";
    lp.timestamp = -2;
    lp.current_leader_epoch = -1;
    lr.partitions = lpv;
    lr.n_partitions = 1;
    write_seed(dir, 2, &lr.base);

    char *topics[2] = {"orders", "payments"};
    Strata__Client__MetadataRequest mr = STRATA__CLIENT__METADATA_REQUEST__INIT;
    mr.topics = topics;
    mr.n_topics = 2;
    write_seed(dir, 3, &mr.base);

    Strata__Client__ProducePartitionResponse ppr =
        STRATA__CLIENT__PRODUCE_PARTITION_RESPONSE__INIT;
    Strata__Client__ProducePartitionResponse *pprv[1] = {&ppr};
    Strata__Client__ProduceResponse prr =
        STRATA__CLIENT__PRODUCE_RESPONSE__INIT;
    ppr.topic = "orders";
    ppr.base_offset = 100;
    ppr.durability = STRATA__CLIENT__DURABILITY__REPLICATED;
    prr.partitions = pprv;
    prr.n_partitions = 1;
    write_seed(dir, 4, &prr.base);

    Strata__Client__FetchPartitionResponse fpr =
        STRATA__CLIENT__FETCH_PARTITION_RESPONSE__INIT;
    Strata__Client__FetchPartitionResponse *fprv[1] = {&fpr};
    Strata__Client__FetchResponse frr = STRATA__CLIENT__FETCH_RESPONSE__INIT;
    fpr.topic = "orders";
    fpr.high_watermark = 120;
    fpr.payload_offset = 0;
    fpr.payload_length = 40;
    frr.partitions = fprv;
    frr.n_partitions = 1;
    write_seed(dir, 5, &frr.base);

    Strata__Client__ListOffsetsPartitionResponse lpr =
        STRATA__CLIENT__LIST_OFFSETS_PARTITION_RESPONSE__INIT;
    Strata__Client__ListOffsetsPartitionResponse *lprv[1] = {&lpr};
    Strata__Client__ListOffsetsResponse lrr =
        STRATA__CLIENT__LIST_OFFSETS_RESPONSE__INIT;
    lpr.topic = "orders";
    lpr.offset = 7;
    lrr.partitions = lprv;
    lrr.n_partitions = 1;
    write_seed(dir, 6, &lrr.base);

    int32_t reps[3] = {1, 2, 3};
    Strata__Client__PartitionMetadata pm =
        STRATA__CLIENT__PARTITION_METADATA__INIT;
    Strata__Client__PartitionMetadata *pmv[1] = {&pm};
    Strata__Client__TopicMetadata tm = STRATA__CLIENT__TOPIC_METADATA__INIT;
    Strata__Client__TopicMetadata *tmv[1] = {&tm};
    Strata__Client__Listener li = STRATA__CLIENT__LISTENER__INIT;
    Strata__Client__Listener *liv[1] = {&li};
    Strata__Client__BrokerInfo bi = STRATA__CLIENT__BROKER_INFO__INIT;
    Strata__Client__BrokerInfo *biv[1] = {&bi};
    Strata__Client__MetadataResponse mrr =
        STRATA__CLIENT__METADATA_RESPONSE__INIT;
    pm.leader = 1;
    pm.replicas = reps;
    pm.n_replicas = 3;
    pm.isr = reps;
    pm.n_isr = 2;
    tm.name = "orders";
    tm.partitions = pmv;
    tm.n_partitions = 1;
    li.name = "PLAINTEXT";
    li.host = "127.0.0.1";
    li.port = 9092;
    bi.id = 1;
    bi.listeners = liv;
    bi.n_listeners = 1;
    mrr.brokers = biv;
    mrr.n_brokers = 1;
    mrr.topics = tmv;
    mrr.n_topics = 1;
    mrr.cluster_id = "c1";
    write_seed(dir, 7, &mrr.base);

    Strata__Ctl__ControllerInfo ci = STRATA__CTL__CONTROLLER_INFO__INIT;
    Strata__Ctl__CreateTopicsResponse ctr =
        STRATA__CTL__CREATE_TOPICS_RESPONSE__INIT;
    ci.leader_id = 2;
    ci.host = "127.0.0.1";
    ci.port = 9093;
    ci.term = 4;
    ctr.controller = &ci;
    write_seed(dir, 8, &ctr.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    st_buf_init(&b1);
    st_buf_init(&b2);
    const char *dir = getenv("STRATA_FUZZ_SEED_DIR");
    if (dir != NULL && dir[0] != '\0') {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned sel = data[0] % 10;
    if (sel < 8) {
        round_trip(descs[sel], data + 1, size - 1);
    } else if (sel == 8) {
        scan_raw(data + 1, size - 1);
    } else {
        scan_built(data + 1, size - 1);
    }
    return 0;
}
