/* Example: produce lines from stdin (or N generated records) to a topic.
 *
 *   producer BOOTSTRAP CA_PEM CERT_PEM KEY_PEM TOPIC [COUNT]
 *
 * Each record's key is "key-<i>", so records of one key keep their order.
 * Prints one line per failed delivery and a summary; exit 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata.h>

static long delivered, failed;

static void on_delivery(strata_t *rk, const strata_message_t *m, void *op)
{
    if (m->err) {
        failed++;
        fprintf(stderr, "delivery to %s failed: %s (%s)\n", m->topic,
                strata_err2str(m->err), m->errstr);
    } else {
        delivered++;
    }
}

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
    if (argc < 6) {
        fprintf(stderr, "usage: %s BOOTSTRAP CA CERT KEY TOPIC [COUNT]\n",
                argv[0]);
        return 2;
    }
    strata_conf_t *conf = strata_conf_new();
    if (set(conf, "bootstrap.servers", argv[1]) ||
        set(conf, "ssl.ca.location", argv[2]) ||
        set(conf, "ssl.certificate.location", argv[3]) ||
        set(conf, "ssl.key.location", argv[4]) || set(conf, "linger.ms", "5")) {
        return 1;
    }
    strata_conf_set_dr_msg_cb(conf, on_delivery);
    char err[512];
    strata_t *rk = strata_new(STRATA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL) {
        fprintf(stderr, "producer: %s\n", err);
        strata_conf_destroy(conf);
        return 1;
    }
    if (strata_wait_ready(rk, 10000, err, sizeof err) != 0) {
        fprintf(stderr, "producer: %s\n", err);
        strata_destroy(rk);
        return 1;
    }
    long count = argc > 6 ? atol(argv[6]) : -1;
    char line[4096], key[32];
    for (long i = 0; count < 0 || i < count; i++) {
        if (count < 0 && fgets(line, sizeof line, stdin) == NULL) {
            break;
        }
        if (count >= 0) {
            snprintf(line, sizeof line, "record %ld", i);
        }
        line[strcspn(line, "\n")] = '\0';
        snprintf(key, sizeof key, "key-%ld", i % 100);
        strata_resp_err_t e;
        while ((e = strata_produce(rk, argv[5], STRATA_PARTITION_ANY, key,
                                   strlen(key), line, strlen(line), NULL, 0,
                                   STRATA_MSG_F_COPY, NULL)) ==
               STRATA_ERR__QUEUE_FULL) {
            strata_poll(rk, 100); /* make room: serve delivery reports */
        }
        if (e != 0) {
            fprintf(stderr, "produce: %s\n", strata_err2str(e));
            break;
        }
        strata_poll(rk, 0);
    }
    if (strata_flush(rk, 30000) != 0) {
        fprintf(stderr, "flush: %d records undelivered\n",
                strata_outq_len(rk));
    }
    strata_destroy(rk);
    printf("delivered=%ld failed=%ld\n", delivered, failed);
    return failed == 0 ? 0 : 1;
}
