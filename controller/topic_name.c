/* Topic name validation and '.'/'_' collisions. */
#include "controller/topic_name.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

static bool legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int st_topic_name_validate(const char *name, bool internal, char *err,
                           size_t cap)
{
    if (name == NULL || name[0] == '\0') {
        snprintf(err, cap, "topic name is empty");
        return ST_EINVAL;
    }
    size_t len = strnlen(name, ST_TOPIC_NAME_MAX + 1);
    if (len > ST_TOPIC_NAME_MAX) {
        snprintf(err, cap, "topic name is longer than %d characters",
                 ST_TOPIC_NAME_MAX);
        return ST_EINVAL;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(err, cap, "topic name cannot be '%s'", name);
        return ST_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!legal_char(name[i])) {
            snprintf(err, cap,
                     "topic name '%s' has an illegal character at %zu: only "
                     "a-z, A-Z, 0-9, '.', '_' and '-' are allowed",
                     name, i);
            return ST_EINVAL;
        }
    }
    if (!internal && strncmp(name, "__", 2) == 0) {
        snprintf(err, cap,
                 "topic name '%s' starts with '__', reserved for internal "
                 "topics",
                 name);
        return ST_EINVAL;
    }
    return 0;
}

bool st_topic_name_collides(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) {
        return false;
    }
    for (;; a++, b++) {
        char ca = *a == '.' ? '_' : *a;
        char cb = *b == '.' ? '_' : *b;
        if (ca != cb) {
            return false;
        }
        if (ca == '\0') {
            return true;
        }
    }
}
