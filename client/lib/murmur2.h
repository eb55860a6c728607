/* murmur2 exactly as the Java Kafka client computes it
 * (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c), so a key
 * maps to the same partition from Java, librdkafka (murmur2 partitioner)
 * and strata. Pure; runs on any thread. */
#ifndef ST_CLIENT_MURMUR2_H
#define ST_CLIENT_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* The 32-bit hash of @len bytes at @data (Java's int, as two's complement:
 * cast to int32_t to compare with Java's test vectors). */
uint32_t cl_murmur2(const void *data, size_t len);

/* Java's partition for a key: (murmur2(key) & 0x7fffffff) % @n. */
int32_t cl_murmur2_partition(const void *key, size_t len, int32_t n);

#endif
