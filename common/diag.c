/* Leveled key=value log lines with repeat suppression. */
#include "diag.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum st_level min_level = ST_LEVEL_INFO;
static int out_fd = 2;
static char process[64];
static char last_body[1024];
static unsigned long repeats;
static time_t repeats_since;

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void st_diag_set_level(enum st_level level)
{
    min_level = level;
}

int st_diag_parse_level(const char *name, enum st_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum st_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = ST_LEVEL_WARN;
        return 0;
    }
    return ST_EINVAL;
}

int st_diag_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    pthread_mutex_lock(&lock);
    if (out_fd != 2) {
        close(out_fd);
    }
    out_fd = fd;
    pthread_mutex_unlock(&lock);
    return 0;
}

void st_diag_set_process(const char *name)
{
    pthread_mutex_lock(&lock);
    snprintf(process, sizeof process, "%s", name);
    pthread_mutex_unlock(&lock);
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(out_fd, p, n);
        if (w <= 0) {
            return; /* nowhere left to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

static size_t stamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return (size_t)snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
                            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec,
                            ts.tv_nsec / 1000000);
}

static void flush_repeats_locked(void)
{
    char line[128];
    size_t n = stamp(line, sizeof line);
    n += (size_t)snprintf(line + n, sizeof line - n,
                          "INFO diag last line repeated %lu times\n", repeats);
    write_all(line, n < sizeof line ? n : sizeof line - 1);
    repeats = 0;
}

void st_diag_vlog(enum st_level level, const char *component, const char *fmt,
                  va_list ap)
{
    if (level < min_level) {
        return;
    }
    char body[1024];
    int blen = snprintf(body, sizeof body, "%s%s%s %s ",
                        process[0] ? process : "", process[0] ? " " : "",
                        level_names[level], component);
    if (blen < 0 || (size_t)blen >= sizeof body) {
        blen = 0;
    }
    vsnprintf(body + blen, sizeof body - (size_t)blen, fmt, ap);

    pthread_mutex_lock(&lock);
    time_t now = time(NULL);
    if (strcmp(body, last_body) == 0) {
        if (repeats == 0) {
            repeats_since = now;
        }
        repeats++;
        if (now - repeats_since >= 1) {
            flush_repeats_locked();
        }
        pthread_mutex_unlock(&lock);
        return;
    }
    if (repeats > 0) {
        flush_repeats_locked();
    }
    snprintf(last_body, sizeof last_body, "%s", body);
    char line[1200];
    size_t n = stamp(line, sizeof line);
    n += (size_t)snprintf(line + n, sizeof line - n, "%s\n", body);
    if (n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    write_all(line, n);
    pthread_mutex_unlock(&lock);
}

void st_diag_log(enum st_level level, const char *component, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_diag_vlog(level, component, fmt, ap);
    va_end(ap);
}

int st_diag_corrupt(const char *file, int line, const char *path, long long pos,
                    const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    st_diag_log(ST_LEVEL_ERROR, "corrupt", "path=%s pos=%lld at=%s:%d %s",
                path ? path : "-", pos, file, line, what);
    return ST_ECORRUPT;
}
