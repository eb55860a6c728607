/* strata brokers register: a placeholder broker registration for tests
 * and tools before strata-broker exists. It registers (fresh incarnation)
 * and heartbeats once, so the broker is unfenced and topics can place
 * replicas on it; with no further heartbeats the active controller fences
 * it after broker.session.timeout.ms. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli/cli.h"
#include "client/cli/ctl_rpc.h"
#include "controller.pb-c.h"

static void fresh_uuid(uint8_t out[16])
{
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(out, 1, 16, f) != 16) {
        uint64_t t = cli_now_ms() ^ (uint64_t)rand();
        memcpy(out, &t, 8);
        memcpy(out + 8, &t, 8);
    }
    if (f != NULL) {
        fclose(f);
    }
    out[0] |= 1; /* never all zero */
}

int cli_broker_register(struct cli_ctl *c, int32_t id, const char *host,
                        uint16_t port, const char *rack, int64_t *epoch,
                        char *err, size_t cap)
{
    uint8_t inc[16];
    fresh_uuid(inc);
    Strata__Ctl__BrokerListener l = STRATA__CTL__BROKER_LISTENER__INIT;
    l.name = "PLAINTEXT";
    l.host = (char *)host;
    l.port = port;
    Strata__Ctl__BrokerListener *lp = &l;
    Strata__Ctl__BrokerRegistrationRequest req =
        STRATA__CTL__BROKER_REGISTRATION_REQUEST__INIT;
    req.broker_id = id;
    req.incarnation_id.data = inc;
    req.incarnation_id.len = sizeof inc;
    req.listeners = &lp;
    req.n_listeners = 1;
    req.rack = (char *)(rack ? rack : "");
    ProtobufCMessage *resp = NULL;
    int32_t error = 0;
    if (cli_ctl_call(c, STRATA__CTL__API__BROKER_REGISTRATION, &req.base,
                     &strata__ctl__broker_registration_response__descriptor,
                     &resp, &error, err, cap) != 0 || error != 0) {
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
        return -1;
    }
    *epoch = ((Strata__Ctl__BrokerRegistrationResponse *)resp)->broker_epoch;
    protobuf_c_message_free_unpacked(resp, NULL);
    Strata__Ctl__BrokerHeartbeatRequest hb =
        STRATA__CTL__BROKER_HEARTBEAT_REQUEST__INIT;
    hb.broker_id = id;
    hb.broker_epoch = *epoch;
    hb.metadata_offset = *epoch;
    resp = NULL;
    if (cli_ctl_call(c, STRATA__CTL__API__BROKER_HEARTBEAT, &hb.base,
                     &strata__ctl__broker_heartbeat_response__descriptor,
                     &resp, &error, err, cap) != 0 || error != 0) {
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
        return -1;
    }
    bool fenced = ((Strata__Ctl__BrokerHeartbeatResponse *)resp)->fenced;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (fenced) {
        snprintf(err, cap, "broker %" PRId32 " is still fenced", id);
        return -1;
    }
    return 0;
}

int cmd_brokers(const struct cli_opts *o, int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "register") != 0) {
        fprintf(stderr, "usage: strata brokers register --id N [--host H] "
                "[--port P] [--rack R]\n");
        return 2;
    }
    int32_t id = -1;
    const char *host = "127.0.0.1", *rack = "";
    uint16_t port = 9092;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--id") == 0) {
            id = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--host") == 0) {
            host = argv[i + 1];
        } else if (strcmp(argv[i], "--port") == 0) {
            port = (uint16_t)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--rack") == 0) {
            rack = argv[i + 1];
        } else {
            fprintf(stderr, "strata: brokers register: bad argument '%s'\n",
                    argv[i]);
            return 2;
        }
    }
    if (id < 0) {
        fprintf(stderr, "strata: brokers register: --id N is required\n");
        return 2;
    }
    char err[1024];
    struct cli_ctl *c;
    if (cli_ctl_open(o, &c, err, sizeof err) != 0) {
        fprintf(stderr, "strata: %s\n", err);
        return 2;
    }
    int64_t epoch = -1;
    int rv = cli_broker_register(c, id, host, port, rack, &epoch, err,
                                 sizeof err);
    cli_ctl_close(c);
    if (rv != 0) {
        fprintf(stderr, "strata: brokers register %" PRId32 ": %s\n", id,
                err);
        return 1;
    }
    if (o->json) {
        printf("{\"broker_id\":%" PRId32 ",\"broker_epoch\":%" PRId64
               ",\"fenced\":false}\n", id, epoch);
    } else {
        printf("registered broker %" PRId32 " epoch %" PRId64
               " (unfenced)\n", id, epoch);
    }
    return 0;
}
