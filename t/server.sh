#!/bin/sh
# server.sh - runs one integration suite against one of fanout-cgi's servers. `make check` names
# each run t/SUITE.SERVER.run (t/integ-nginx.event.run, t/browser.threads.run: stub files made
# by make) and calls this as their log compiler; it runs t/SUITE (the program in the build
# directory) or t/SUITE.sh (from the sources) with FANOUT_TEST_SERVER=SERVER, which the suites
# pass on as `fanout-cgi --server SERVER`. A server missing from TEST_SERVERS (Makefile.am) is
# skipped.
#
#   sh t/server.sh t/SUITE.SERVER.run
set -eu

run=$(basename "$1" .run)
server=${run##*.}
suite=${run%.*}
[ "$suite.$server.run" = "$(basename "$1")" ] ||
	{ echo "server.sh: $1 is not named t/SUITE.SERVER.run" >&2; exit 99; }
case " ${TEST_SERVERS:-threads event} " in
*" $server "*) ;;
*)
	echo "server.sh: SKIP: the $server server's runs are switched off (TEST_SERVERS=$TEST_SERVERS)"
	exit 77
	;;
esac
FANOUT_TEST_SERVER=$server
export FANOUT_TEST_SERVER
echo "server.sh: t/$suite against fanout-cgi --server $server"
if [ -f "t/$suite" ] && [ -x "t/$suite" ]; then
	exec "t/$suite"
fi
exec "${SHELL:-/bin/sh}" "${srcdir:-.}/t/$suite.sh"
