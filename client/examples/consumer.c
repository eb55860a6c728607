/* Example: print records of one partition from the beginning.
 *
 *   consumer BOOTSTRAP CA_PEM CERT_PEM KEY_PEM TOPIC PARTITION COUNT
 *
 * Prints "partition offset key value" per record; stops after COUNT records
 * or 10 s without one. Exit 0 when COUNT records were read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <strata.h>

static int set(strata_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (strata_conf_set(c, k, v, err, sizeof err) != STRATA_CONF_OK) {
        fprintf(stderr, "config: %s\n", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: %s BOOTSTRAP CA CERT KEY TOPIC PART COUNT\n",
                argv[0]);
        return 2;
    }
    strata_conf_t *conf = strata_conf_new();
    if (set(conf, "bootstrap.servers", argv[1]) ||
        set(conf, "ssl.ca.location", argv[2]) ||
        set(conf, "ssl.certificate.location", argv[3]) ||
        set(conf, "ssl.key.location", argv[4])) {
        return 1;
    }
    char err[512];
    strata_t *rk = strata_new(STRATA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "consumer: %s\n", err);
        strata_conf_destroy(conf);
        return 1;
    }
    strata_topic_partition_list_t *parts = strata_topic_partition_list_new(1);
    strata_topic_partition_list_add(parts, argv[5], atoi(argv[6]))->offset =
        STRATA_OFFSET_BEGINNING;
    strata_assign(rk, parts);
    strata_topic_partition_list_destroy(parts);

    long want = atol(argv[7]), got = 0;
    while (got < want) {
        strata_message_t *m = strata_consumer_poll(rk, 10000);
        if (m == NULL) {
            fprintf(stderr, "consumer: no record for 10 s\n");
            break;
        }
        if (m->err) {
            fprintf(stderr, "consumer: %s: %s\n", strata_err2str(m->err),
                    m->errstr);
        } else {
            printf("%" PRId32 " %" PRId64 " %.*s %.*s\n", m->partition,
                   m->offset, (int)m->key_len, (const char *)m->key,
                   (int)m->value_len, (const char *)m->value);
            got++;
        }
        strata_message_destroy(m);
    }
    strata_close(rk, 1000);
    strata_destroy(rk);
    return got == want ? 0 : 1;
}
