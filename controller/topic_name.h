/* Topic name rules (Kafka's): 1..249 characters of [a-zA-Z0-9._-], not "."
 * or "..", and names starting with "__" are reserved for internal topics.
 * Two names that differ only by '.' versus '_' collide, because both map to
 * the same metric names; the second is refused. Pure; runs on any thread.
 */
#ifndef ST_TOPIC_NAME_H
#define ST_TOPIC_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define ST_TOPIC_NAME_MAX 249

/* Check @name; @internal allows the reserved "__" prefix. On error writes a
 * sentence naming the problem to @err (@cap bytes). Errors: ST_EINVAL. */
int st_topic_name_validate(const char *name, bool internal, char *err,
                           size_t cap);

/* True when @a and @b are different names that are equal once every '.' is
 * read as '_'. */
bool st_topic_name_collides(const char *a, const char *b);

#endif
