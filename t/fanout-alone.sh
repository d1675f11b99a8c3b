#!/bin/sh
# fanout-alone.sh - fanout/ is a library of its own: its files include nothing but each other and
# standard C/POSIX headers, fanout/*.c and t/example-wrap.c build with only -I fanout -pthread
# (no other -I, no -D) and the example runs, and the objects define no external symbol outside
# fanout_. Run by `make check` from the build directory (FANOUT_CC, FANOUT_CFLAGS: the build's
# compiler, warnings and sanitizers); by hand: srcdir=. sh t/fanout-alone.sh
set -u

srcdir=${srcdir:-.}
cc=${FANOUT_CC:-cc}
cflags=${FANOUT_CFLAGS:--Wall -Wextra -Werror}
fanout=$srcdir/fanout

fail() {
	echo "fanout-alone: FAIL: $*"
	exit 1
}

# Only what a C11 compiler and a POSIX libc with pthreads provide: anything else (common/, cgi/,
# a third-party library) would have to come with fanout/ into a host program.
allowed=" assert.h errno.h inttypes.h limits.h sched.h signal.h stdalign.h stdarg.h stdatomic.h "
allowed="$allowed stdbool.h stddef.h stdint.h stdio.h stdlib.h string.h pthread.h time.h unistd.h "
includes=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//p' "$fanout"/*.c "$fanout"/*.h)
[ -n "$includes" ] || fail "no #include found in $fanout"
bad=$(echo "$includes" | while read -r inc; do
	case $inc in
	\"*/*\") echo "$inc" ;;	# a path: outside fanout/
	\"*\") name=${inc#\"}; [ -f "$fanout/${name%\"}" ] || echo "$inc" ;;
	\<*\>) name=${inc#<}; case $allowed in *" ${name%>} "*) ;; *) echo "$inc" ;; esac ;;
	*) echo "$inc" ;;
	esac
done)
[ -z "$bad" ] ||
	fail "fanout/ includes what is not its own nor libc's: $(echo "$bad" | tr "\n" " ")"

echo "fanout-alone: $cc -std=c11 $cflags -I $fanout -pthread"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fanout-alone.XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT
for src in "$fanout"/*.c; do
	obj=$tmp/$(basename "$src" .c).o
	# shellcheck disable=SC2086	# cflags is a list of flags
	$cc -std=c11 $cflags -I "$fanout" -pthread -c "$src" -o "$obj" ||
		fail "$src does not compile with -I fanout -pthread alone"
done

# Names that a host program could also define: every external one must be fanout_ (the
# compiler's own, __ and so reserved, are let through: sanitizers add some).
nm -g --defined-only "$tmp"/*.o > "$tmp/symbols" || fail "nm could not list the objects' symbols"
grep -q ' T fanout_group_run$' "$tmp/symbols" || fail "nm's listing lacks fanout_group_run"
foreign=$(awk 'NF == 3 && $3 !~ /^(fanout_|__)/ { print $3 }' "$tmp/symbols")
[ -z "$foreign" ] ||
	fail "external symbols without the fanout_ prefix: $(echo "$foreign" | tr "\n" " ")"

# shellcheck disable=SC2086
$cc -std=c11 $cflags -I "$fanout" -pthread "$srcdir/t/example-wrap.c" "$tmp"/*.o \
	-o "$tmp/example-wrap" || fail "t/example-wrap.c does not build against fanout/ alone"
"$tmp/example-wrap" || fail "the example built against fanout/ alone exited $?"
echo "fanout-alone: ok: fanout/ and t/example-wrap.c built with -I fanout -pthread alone, ran"
