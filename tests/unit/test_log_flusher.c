/* broker/log flusher: group commit on worker threads with completions on
 * a libevent loop, retention and cleaning as jobs, and a child process
 * killed with SIGKILL while appending under log.flush.policy=batch. */
#include <event2/event.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/log/flusher.h"
#include "common/jobq.h"
#include "test_log_util.h"

static struct {
    char dir[256];
    struct event_base *base;
    struct st_jobq *q;
    struct st_log *log;
    struct st_log_flusher *fl;
    struct st_log_config conf;
    int64_t durable;
    int durable_calls;
    int appends;
    int appends_max;
    struct event *tick;
    int report_fd;
} f;

static void on_durable(void *arg, int64_t durable)
{
    (void)arg;
    f.durable = durable;
    f.durable_calls++;
    if (f.report_fd >= 0) {
        ssize_t n = write(f.report_fd, &durable, sizeof durable);
        (void)n;
    }
}

/* Append one batch whose records carry their own offsets. */
static void append_tagged(int n_records, size_t value_len)
{
    uint8_t *b;
    int64_t end = st_log_end_offset(f.log);
    size_t len = tl_batch_ex(n_records, value_len, 1000, (int)(end % 97), 0,
                             (uint64_t)end, false, -1, 0, -1, &b);
    struct st_log_append_info info;
    int rv = st_log_append(f.log, b, len, ST_LOG_APPEND_LEADER, 1, 1000,
                           &info);
    free(b);
    if (rv != 0) {
        ck_abort_msg("append: %s", st_strerror(rv));
    }
    f.appends++;
}

/* Each loop turn, 8 "appenders" add a batch each, then kick the flusher:
 * whatever lands during an fsync joins the next one. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    /* Like producers with bounded in-flight requests, wait while 512
     * records are not durable yet. */
    for (int i = 0; i < 8 && (f.appends_max < 0 || f.appends < f.appends_max) &&
                    st_log_end_offset(f.log) - f.durable < 512;
         i++) {
        append_tagged(4, 200);
    }
    st_log_flusher_kick(f.fl);
    if (f.appends_max >= 0 && f.appends >= f.appends_max &&
        f.durable >= st_log_end_offset(f.log)) {
        event_base_loopbreak(f.base);
    }
}

static void start(const char *dir)
{
    ck_assert_int_eq(st_jobq_threads_init(), 0);
    f.base = event_base_new();
    ck_assert_ptr_nonnull(f.base);
    ck_assert_int_eq(st_jobq_new(f.base, 2, &f.q), 0);
    ck_assert_int_eq(st_log_open(st_vfs_posix(), dir, &f.conf, 1000, &f.log),
                     0);
    st_log_set_durable_cb(f.log, on_durable, NULL);
    f.durable = st_log_durable_offset(f.log);
    ck_assert_int_eq(st_log_flusher_new(f.base, f.q, f.log, 7, &f.fl), 0);
    f.tick = event_new(f.base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval ms = {0, 1000}; /* a zero persistent timeout fires once */
    event_add(f.tick, &ms);
}

static void stop(void)
{
    if (f.tick != NULL) {
        event_free(f.tick);
        f.tick = NULL;
    }
    st_log_flusher_free(f.fl);
    f.fl = NULL;
    st_jobq_free(f.q);
    f.q = NULL;
    ck_assert_int_eq(st_log_close(f.log), 0);
    f.log = NULL;
    event_base_free(f.base);
    f.base = NULL;
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    f.report_fd = -1;
    st_test_tmpdir(f.dir, sizeof f.dir);
    tl_small_config(&f.conf);
    f.conf.segment_bytes = 1 << 20;
}

static void teardown(void)
{
    st_test_rmdir(f.dir);
}

START_TEST(test_group_commit_shares_fsyncs_between_appenders)
{
    f.appends_max = 2000;
    start(f.dir);
    /* Given 8 appenders adding 2,000 batches as fast as the loop turns, */
    event_base_dispatch(f.base);
    /* every batch became durable, reported through the callback, */
    ck_assert_int_eq(f.durable, st_log_end_offset(f.log));
    ck_assert_int_eq(f.durable, 2000 * 4);
    /* with far fewer fsync rounds than appends (group commit). */
    uint64_t flushes = st_log_flusher_flushes(f.fl);
    ck_assert_uint_gt(flushes, 0);
    ck_assert_uint_lt(flushes, 2000 / 4);
    ck_assert_int_lt(f.durable_calls, 2000 / 4);
    stop();
}
END_TEST

START_TEST(test_flusher_runs_retention_and_cleaning_off_the_loop)
{
    f.conf.segment_bytes = 16 << 10;
    f.conf.retention_bytes = 4 << 10;
    f.conf.cleanup_policy = ST_LOG_CLEANUP_DELETE | ST_LOG_CLEANUP_COMPACT;
    f.appends_max = 500;
    start(f.dir);
    event_base_dispatch(f.base);
    int64_t end = st_log_end_offset(f.log);
    /* Cleaning first (keys repeat every 97 records), then retention. */
    uint64_t before = st_log_size_bytes(f.log);
    ck_assert_int_eq(st_log_flusher_clean(f.fl, 1000, end), 0);
    ck_assert_int_eq(st_log_flusher_clean(f.fl, 1000, end), 1); /* running */
    st_log_flusher_drain(f.fl);
    ck_assert_uint_lt(st_log_size_bytes(f.log), before / 2);
    ck_assert_int_eq(st_log_flusher_retention(f.fl, 1000, end), 0);
    st_log_flusher_drain(f.fl);
    ck_assert(!st_log_flusher_busy(f.fl));
    ck_assert_int_gt(st_log_start_offset(f.log), 0);
    ck_assert_uint_le(st_log_size_bytes(f.log), (4 << 10) + (16 << 10));
    ck_assert_int_eq(tl_scan_all(f.log, st_log_start_offset(f.log), NULL),
                     end);
    stop();
}
END_TEST

START_TEST(test_interval_policy_flushes_on_a_timer)
{
    f.conf.flush_policy = ST_LOG_FLUSH_INTERVAL;
    f.conf.flush_interval_ms = 5;
    f.appends_max = 16;
    start(f.dir);
    event_base_dispatch(f.base); /* durable at once: acked from cache */
    event_free(f.tick);
    f.tick = NULL;
    /* The timer's flush syncs within a bounded wait. */
    for (int i = 0; i < 400 && st_log_synced_offset(f.log) <
                                   st_log_end_offset(f.log); i++) {
        struct timeval tv = {0, 5000};
        event_base_loopexit(f.base, &tv);
        event_base_dispatch(f.base);
    }
    ck_assert_int_eq(st_log_synced_offset(f.log), st_log_end_offset(f.log));
    stop();
}
END_TEST

/* ---- kill -9 ---- */

static void child_main(const char *dir, int wfd)
{
    f.report_fd = wfd;
    f.appends_max = -1; /* forever, until killed */
    start(dir);
    event_base_dispatch(f.base);
    _exit(3);
}

/* Check every batch from the start: CRC, and every record's value holds
 * its own offset (so nothing was torn, mixed or reordered). */
static int64_t verify_log(struct st_log *log)
{
    struct st_record_iter *it;
    ck_assert_int_eq(st_record_iter_new(&it), 0);
    int64_t off = st_log_start_offset(log);
    for (;;) {
        struct st_log_read_result r;
        ck_assert_int_eq(st_log_read(log, off, INT64_MAX, 1 << 20, &r), 0);
        if (r.len == 0) {
            break;
        }
        uint8_t *p = tl_slurp(&r);
        for (size_t at = 0; at < r.len;) {
            struct st_batch_header h;
            ck_assert_int_eq(st_batch_validate(p + at, r.len - at, 1 << 20,
                                               &h), 0);
            ck_assert_int_eq(h.base_offset, off);
            ck_assert_int_eq(st_record_iter_init(it, p + at,
                                                 st_batch_total_bytes(&h),
                                                 1 << 20), 0);
            struct st_record rec;
            while (st_record_iter_next(it, &rec) == 0) {
                uint64_t tag;
                memcpy(&tag, rec.value, 8);
                if ((int64_t)tag != rec.offset) {
                    ck_abort_msg("offset %lld holds %lld",
                                 (long long)rec.offset, (long long)tag);
                }
            }
            off = st_batch_last_offset(&h) + 1;
            at += st_batch_total_bytes(&h);
        }
        free(p);
        st_log_read_release(&r);
    }
    st_record_iter_free(it);
    return off;
}

START_TEST(test_kill_9_loses_nothing_reported_durable)
{
    uint64_t rng = 12345;
    int64_t durable_max = 0;
    for (int round = 0; round < 8; round++) {
        int pfd[2];
        ck_assert_int_eq(pipe(pfd), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(pfd[0]);
            child_main(f.dir, pfd[1]);
        }
        close(pfd[1]);
        /* Let the child report a random number of durable offsets, then
         * kill it at once. */
        int want = 1 + (int)(st_test_rand(&rng) % 60);
        for (int got = 0; got < want;) {
            struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
            ck_assert_msg(poll(&pf, 1, 20000) == 1, "child silent");
            int64_t d;
            ssize_t n = read(pfd[0], &d, sizeof d);
            ck_assert_int_eq(n, sizeof d);
            if (d > durable_max) {
                durable_max = d;
            }
            got++;
        }
        kill(pid, SIGKILL);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status));
        /* Drain reports sent before the kill. */
        int64_t d;
        while (read(pfd[0], &d, sizeof d) == sizeof d) {
            if (d > durable_max) {
                durable_max = d;
            }
        }
        close(pfd[0]);
        /* Every offset reported durable is present and intact. */
        struct st_log *log;
        ck_assert_int_eq(st_log_open(st_vfs_posix(), f.dir, &f.conf, 1000,
                                     &log), 0);
        int64_t end = st_log_end_offset(log);
        ck_assert_msg(end >= durable_max, "round %d: end %lld < durable %lld",
                      round, (long long)end, (long long)durable_max);
        ck_assert_int_eq(verify_log(log), end);
        /* and the next append continues at the end. */
        f.log = log;
        append_tagged(1, 16);
        ck_assert_int_eq(st_log_end_offset(log), end + 1);
        ck_assert_int_eq(st_log_close(log), 0);
        f.log = NULL;
    }
    ck_assert_int_gt(durable_max, 0);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("log_flusher");
    TCase *tc = tcase_create("flusher");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_group_commit_shares_fsyncs_between_appenders);
    tcase_add_test(tc, test_flusher_runs_retention_and_cleaning_off_the_loop);
    tcase_add_test(tc, test_interval_policy_flushes_on_a_timer);
    tcase_add_test(tc, test_kill_9_loses_nothing_reported_durable);
    suite_add_tcase(s, tc);
    return s;
}
