#!/bin/sh
# missing.sh - in `make check` only when configure did not find a package that tests need
# (CUnit, libmicrohttpd): those tests are not built, and this fails in their place, naming the
# package, so that a suite that ran less never passes. A hard error (99): no XFAIL hides it.
# TESTS_MISSING_WHY comes from configure through Makefile.am, one reason per |-separated part.
printf '%s\n' "${TESTS_MISSING_WHY:-a package the tests need was not found by configure.}" |
	tr '|' '\n' | sed 's/^/missing: ERROR: /'
echo "missing: install what is named above and run configure again" \
	"(t/check.sh installs everything the tests use)."
exit 99
