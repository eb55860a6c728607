/* Where a group lives: the __consumer_offsets partition of a group id
 * (broker/coordinator.h), which must match Kafka's rule so the same group
 * names spread the same way: abs(Java String.hashCode) % partitions. */
#include <stdio.h>

#include "broker/coordinator.h"
#include "test_util.h"

START_TEST(test_group_partition_is_java_hash_modulo_partitions)
{
    /* Given group ids whose Java hashCode is known (computed with
     * String.hashCode semantics: s[0]*31^(n-1) + ... in 32-bit ints), */
    /* when placed among 50 and among 12 partitions, */
    /* they land where Kafka would put them. */
    ck_assert_int_eq(st_coord_partition_for("my-group", 50), 12);
    ck_assert_int_eq(st_coord_partition_for("my-group", 12), 6);
    ck_assert_int_eq(st_coord_partition_for("ga", 50), 40);
    ck_assert_int_eq(st_coord_partition_for("test-consumer-group", 50), 31);
}
END_TEST

START_TEST(test_group_whose_hash_is_int_min_goes_to_partition_zero)
{
    /* Given a group id hashing to Integer.MIN_VALUE, whose abs overflows,
     * when placed, then Kafka's Utils.abs rule gives partition 0. */
    ck_assert_int_eq(st_coord_partition_for("polygenelubricants", 50), 0);
    ck_assert_int_eq(st_coord_partition_for("polygenelubricants", 7), 0);
}
END_TEST

START_TEST(test_every_group_lands_inside_the_topic)
{
    /* Given many group ids, each lands in [0, partitions). */
    char id[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "group-%d", i);
        int32_t p = st_coord_partition_for(id, 13);
        ck_assert(p >= 0 && p < 13);
    }
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("coord_placement");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_group_partition_is_java_hash_modulo_partitions);
    tcase_add_test(tc, test_group_whose_hash_is_int_min_goes_to_partition_zero);
    tcase_add_test(tc, test_every_group_lands_inside_the_topic);
    suite_add_tcase(s, tc);
    return s;
}
