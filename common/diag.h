/* Diagnostics: leveled, timestamped key=value log lines.
 *
 * One line per event: "2026-11-23T18:00:00.123Z INFO raft node=1 term=4 ...".
 * Lines go to stderr unless st_diag_open_file() picked a file. A line that
 * repeats the previous one exactly is counted, not printed, and a summary
 * ("last line repeated N times") is written when a different line arrives or
 * after a second passes. Thread-safe.
 *
 * ERROR needs a human, WARN is handled, INFO is a state change, DEBUG is per
 * request. Cores never call this: they emit to an injected tracer.
 */
#ifndef ST_DIAG_H
#define ST_DIAG_H

#include <stdarg.h>

enum st_level { ST_LEVEL_DEBUG, ST_LEVEL_INFO, ST_LEVEL_WARN, ST_LEVEL_ERROR };

/* Set the lowest level printed (default INFO). */
void st_diag_set_level(enum st_level level);
/* Parse "debug", "info", "warn" or "error". Errors: ST_EINVAL. */
int st_diag_parse_level(const char *name, enum st_level *out);
/* Send lines to @path (appended, created 0644) instead of stderr.
 * Errors: negated errno from open(). */
int st_diag_open_file(const char *path);
/* Set a prefix naming this process ("controller-1"); copied. */
void st_diag_set_process(const char *name);

void st_diag_log(enum st_level level, const char *component, const char *fmt,
                 ...) __attribute__((format(printf, 3, 4)));
void st_diag_vlog(enum st_level level, const char *component, const char *fmt,
                  va_list ap);

#define ST_DEBUG(comp, ...) st_diag_log(ST_LEVEL_DEBUG, comp, __VA_ARGS__)
#define ST_INFO(comp, ...) st_diag_log(ST_LEVEL_INFO, comp, __VA_ARGS__)
#define ST_WARN(comp, ...) st_diag_log(ST_LEVEL_WARN, comp, __VA_ARGS__)
#define ST_ERROR(comp, ...) st_diag_log(ST_LEVEL_ERROR, comp, __VA_ARGS__)

/* Log corruption found at @path:@pos with the source location, and evaluate
 * to ST_ECORRUPT (SQLite's _BKPT habit):
 *   return ST_CORRUPT(path, pos, "crc %08x != %08x", got, want); */
int st_diag_corrupt(const char *file, int line, const char *path, long long pos,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define ST_CORRUPT(path, pos, ...)                                            \
    st_diag_corrupt(__FILE__, __LINE__, (path), (long long)(pos), __VA_ARGS__)

#endif
