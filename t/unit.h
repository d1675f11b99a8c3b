/* unit.h - the CUnit runner shared by the unit test programs: exits non-zero on any failure. */
#ifndef T_UNIT_H
#define T_UNIT_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Runs the tests as one suite. CU_basic_run_tests() reports success even when assertions
 * failed, so the exit status comes from the failure counts. */
static inline int
unit_run(const char *suite_name, int (*init)(void), int (*cleanup)(void),
    const struct unit_test *tests)
{
	CU_pSuite suite;
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return fprintf(stderr, "CUnit: %s\n", CU_get_error_msg()), EXIT_FAILURE;
	if ((suite = CU_add_suite(suite_name, init, cleanup)) == NULL)
		return fprintf(stderr, "CUnit: %s\n", CU_get_error_msg()), EXIT_FAILURE;
	for (; tests->name != NULL; tests++)
		if (CU_add_test(suite, tests->name, tests->fn) == NULL)
			return fprintf(stderr, "CUnit: %s\n", CU_get_error_msg()), EXIT_FAILURE;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (CU_basic_run_tests() != CUE_SUCCESS)
		return fprintf(stderr, "CUnit: %s\n", CU_get_error_msg()), EXIT_FAILURE;
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
	if (CU_get_number_of_tests_run() == 0)
		failed++;	/* a suite that ran nothing proves nothing */
	CU_cleanup_registry();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
