/* unit-h1.h - the parts of t/unit-h1: the parser's cases (unit-h1-parse.c) beside the client's
 * on a loop (unit-h1.c). */
#ifndef T_UNIT_H1_H
#define T_UNIT_H1_H

#include "t/unit.h"

void test_parse_cases(void);
void test_parse_bounds(void);

#endif
