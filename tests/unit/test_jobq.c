/* The job queue: work on workers, done() on the loop, lanes, shutdown.
 * Real threads, so the loop runs for real; a 10 s guard timer fails a test
 * that would otherwise hang. */
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "common/err.h"
#include "common/jobq.h"
#include "test_util.h"

#define N_LANES 8

struct tjob {
    struct st_job job;
    unsigned id;
    unsigned lane;
    bool work_on_main;
    bool done_off_main;
};

static struct {
    struct event_base *base;
    struct event *guard;
    struct st_jobq *q;
    pthread_t main;
    unsigned n_done, n_want;
    atomic_uint n_work;
    unsigned order[16];
    /* lanes */
    atomic_int running[N_LANES];
    atomic_uint next_work[N_LANES];
    unsigned next_done[N_LANES];
    atomic_bool lane_overlap, lane_reorder;
    /* blocking jobs */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool released;
    int resubmit_rv;
} f;

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    ck_abort_msg("test did not finish within 10 s");
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    ck_assert_int_eq(st_jobq_threads_init(), 0);
    f.base = event_base_new();
    ck_assert_ptr_nonnull(f.base);
    f.guard = evtimer_new(f.base, guard_cb, NULL);
    struct timeval tv = {10, 0};
    evtimer_add(f.guard, &tv);
    f.main = pthread_self();
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cond, NULL);
}

static void teardown(void)
{
    st_jobq_free(f.q);
    event_free(f.guard);
    event_base_free(f.base);
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cond);
}

static void run_loop(void)
{
    event_base_loop(f.base, EVLOOP_NO_EXIT_ON_EMPTY);
}

static void count_work(struct st_job *j)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    t->work_on_main = pthread_equal(pthread_self(), f.main);
    atomic_fetch_add(&f.n_work, 1);
}

static void count_done(struct st_job *j, int status)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    t->done_off_main = !pthread_equal(pthread_self(), f.main);
    ck_assert_int_eq(status, (int)t->id);
    if (++f.n_done == f.n_want) {
        event_base_loopbreak(f.base);
    }
}

static void status_work(struct st_job *j)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    count_work(j);
    j->status = (int)t->id; /* work's result reaches done() */
}

START_TEST(test_every_done_runs_on_the_loop_thread_after_its_work)
{
    /* Given 1,000 jobs on 4 workers, */
    static struct tjob jobs[1000];
    ck_assert_int_eq(st_jobq_new(f.base, 4, &f.q), 0);
    f.n_want = 1000;
    for (unsigned i = 0; i < 1000; i++) {
        jobs[i] = (struct tjob){.job = {.work = status_work,
                                        .done = count_done},
                                .id = i};
        ck_assert_int_eq(st_jobq_submit(f.q, &jobs[i].job), 0);
    }
    /* when the loop runs, */
    run_loop();
    /* every work ran off the loop thread and every done on it. */
    ck_assert_uint_eq(f.n_done, 1000);
    ck_assert_uint_eq(st_jobq_pending(f.q), 0);
    for (unsigned i = 0; i < 1000; i++) {
        ck_assert(!jobs[i].work_on_main);
        ck_assert(!jobs[i].done_off_main);
    }
}
END_TEST

static void wait_release_work(struct st_job *j)
{
    pthread_mutex_lock(&f.mu);
    while (!f.released) {
        pthread_cond_wait(&f.cond, &f.mu);
    }
    pthread_mutex_unlock(&f.mu);
}

static void quick_work(struct st_job *j)
{
}

static void order_done(struct st_job *j, int status)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    f.order[f.n_done++] = t->id;
    if (t->id == 2) {
        /* The quick job is done: now let the slow one finish. */
        pthread_mutex_lock(&f.mu);
        f.released = true;
        pthread_cond_broadcast(&f.cond);
        pthread_mutex_unlock(&f.mu);
    }
    if (f.n_done == f.n_want) {
        event_base_loopbreak(f.base);
    }
}

START_TEST(test_completions_run_in_the_order_work_finished)
{
    /* Given a slow job submitted before a quick one on two workers, */
    struct tjob slow = {.job = {.work = wait_release_work, .done = order_done},
                        .id = 1};
    struct tjob quick = {.job = {.work = quick_work, .done = order_done},
                         .id = 2};
    ck_assert_int_eq(st_jobq_new(f.base, 2, &f.q), 0);
    f.n_want = 2;
    ck_assert_int_eq(st_jobq_submit(f.q, &slow.job), 0);
    ck_assert_int_eq(st_jobq_submit(f.q, &quick.job), 0);
    /* when the quick one finishes first (and only then releases the slow), */
    run_loop();
    /* its done runs first. */
    ck_assert_uint_eq(f.order[0], 2);
    ck_assert_uint_eq(f.order[1], 1);
}
END_TEST

static void lane_work(struct st_job *j)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    if (atomic_fetch_add(&f.running[t->lane], 1) != 0) {
        atomic_store(&f.lane_overlap, true);
    }
    unsigned want = atomic_fetch_add(&f.next_work[t->lane], 1);
    if (want != t->id / N_LANES) {
        atomic_store(&f.lane_reorder, true);
    }
    atomic_fetch_sub(&f.running[t->lane], 1);
}

static void lane_done(struct st_job *j, int status)
{
    struct tjob *t = ST_JOB_CONTAINER(j, struct tjob, job);
    ck_assert_uint_eq(t->id / N_LANES, f.next_done[t->lane]);
    f.next_done[t->lane]++;
    if (++f.n_done == f.n_want) {
        event_base_loopbreak(f.base);
    }
}

START_TEST(test_lane_jobs_run_one_at_a_time_in_submission_order)
{
    /* Given 4,000 jobs spread over 8 lanes and 3 workers, mixed with
     * unordered jobs, */
    static struct tjob jobs[4000], other[1000];
    ck_assert_int_eq(st_jobq_new(f.base, 3, &f.q), 0);
    f.n_want = 5000;
    for (unsigned i = 0; i < 4000; i++) {
        jobs[i] = (struct tjob){.job = {.work = lane_work, .done = lane_done},
                                .id = i, .lane = i % N_LANES};
        ck_assert_int_eq(st_jobq_submit_lane(f.q, &jobs[i].job,
                                             jobs[i].lane + 100),
                         0);
        if (i % 4 == 0) {
            other[i / 4] = (struct tjob){
                .job = {.work = status_work, .done = count_done},
                .id = i / 4};
            ck_assert_int_eq(st_jobq_submit(f.q, &other[i / 4].job), 0);
        }
    }
    run_loop();
    /* no two jobs of a lane overlapped, and each lane kept its order in
     * work and in done (checked in lane_done). */
    ck_assert_uint_eq(f.n_done, 5000);
    ck_assert(!atomic_load(&f.lane_overlap));
    ck_assert(!atomic_load(&f.lane_reorder));
}
END_TEST

struct submitter {
    struct tjob jobs[250];
    unsigned base_id;
};

static void *submitter_main(void *arg)
{
    struct submitter *s = arg;
    for (unsigned i = 0; i < 250; i++) {
        s->jobs[i] = (struct tjob){
            .job = {.work = status_work, .done = count_done},
            .id = s->base_id + i};
        if (st_jobq_submit(f.q, &s->jobs[i].job) != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

START_TEST(test_jobs_submitted_from_several_threads_all_complete)
{
    static struct submitter subs[4];
    pthread_t t[4];
    ck_assert_int_eq(st_jobq_new(f.base, 2, &f.q), 0);
    f.n_want = 1000;
    for (unsigned i = 0; i < 4; i++) {
        subs[i].base_id = i * 250;
        ck_assert_int_eq(
            pthread_create(&t[i], NULL, submitter_main, &subs[i]), 0);
    }
    /* The loop drains while the submitters are still submitting. */
    run_loop();
    for (unsigned i = 0; i < 4; i++) {
        void *res;
        pthread_join(t[i], &res);
        ck_assert_ptr_null(res);
    }
    ck_assert_uint_eq(f.n_done, 1000);
    ck_assert_uint_eq(atomic_load(&f.n_work), 1000);
}
END_TEST

static void resubmit_done(struct st_job *j, int status)
{
    count_done(j, status);
    f.resubmit_rv = st_jobq_submit(f.q, j);
}

START_TEST(test_free_with_jobs_pending_runs_every_work_and_done)
{
    /* Given 200 jobs queued and a loop that never ran, */
    static struct tjob jobs[200];
    ck_assert_int_eq(st_jobq_new(f.base, 2, &f.q), 0);
    f.n_want = 0; /* no loopbreak needed */
    for (unsigned i = 0; i < 200; i++) {
        jobs[i] = (struct tjob){.job = {.work = status_work,
                                        .done = resubmit_done},
                                .id = i};
        ck_assert_int_eq(st_jobq_submit(f.q, &jobs[i].job), 0);
    }
    /* when the queue is freed, */
    st_jobq_free(f.q);
    f.q = NULL;
    /* every job's work and done ran (done on this thread) exactly once,
     * and a submission from done() during shutdown was refused. */
    ck_assert_uint_eq(atomic_load(&f.n_work), 200);
    ck_assert_uint_eq(f.n_done, 200);
    for (unsigned i = 0; i < 200; i++) {
        ck_assert(!jobs[i].done_off_main);
    }
    ck_assert_int_eq(f.resubmit_rv, ST_ECLOSED);
}
END_TEST

START_TEST(test_new_refuses_zero_threads_and_free_accepts_null)
{
    struct st_jobq *q = NULL;
    ck_assert_int_eq(st_jobq_new(f.base, 0, &q), ST_EINVAL);
    ck_assert_ptr_null(q);
    st_jobq_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("jobq");
    TCase *tc = tcase_create("jobq");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_done_runs_on_the_loop_thread_after_its_work);
    tcase_add_test(tc, test_completions_run_in_the_order_work_finished);
    tcase_add_test(tc, test_lane_jobs_run_one_at_a_time_in_submission_order);
    tcase_add_test(tc, test_jobs_submitted_from_several_threads_all_complete);
    tcase_add_test(tc, test_free_with_jobs_pending_runs_every_work_and_done);
    tcase_add_test(tc, test_new_refuses_zero_threads_and_free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}
