/* The one main() of every Check program: run test_suite() and exit non-zero
 * on any failure. */
#include <stdlib.h>

#include "test_util.h"

int main(void)
{
    SRunner *sr = srunner_create(test_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
