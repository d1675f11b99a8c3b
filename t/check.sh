#!/bin/sh
# check.sh - install what is missing, build, and run the whole test suite.
#
#   t/check.sh            plain build with -Werror, then `make check`   (build/)
#   t/check.sh asan       the same suite under AddressSanitizer + UBSan (build-asan/)
#   t/check.sh tsan       the same suite under ThreadSanitizer          (build-tsan/)
#   t/check.sh distcheck  `make distcheck`: the release tarball builds and passes
#   t/check.sh fuzz       builds the libFuzzer targets with clang (build-fuzz/) and runs each
#                         for FUZZ_SECONDS (60); a crash fails, its input is kept in build-fuzz/
#   t/check.sh all        all of the above
#   t/check.sh build      install and build only (build/), for t/bench/run.sh
# FANOUT_EXTRA_PACKAGES names more Debian packages to install (the benchmark's tools).
# What apt and the build print goes to build/install.log and DIR/build.log: the terminal shows
# one line for each, or on failure the end of the log and its path; the test reports in full.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
packages="build-essential autoconf automake pkg-config libfcgi-dev libcurl4-openssl-dev
	libjansson-dev libcunit1-dev libmicrohttpd-dev libfcgi-bin nginx libnginx-mod-http-echo curl
	apache2 chromium openssl ${FANOUT_EXTRA_PACKAGES:-}"

install_missing() {
	missing=
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	as_root=
	[ "$(id -u)" -eq 0 ] || as_root=sudo
	# The tests run their own nginx and Apache on private ports: keep the packages from
	# starting the system ones on port 80 (policy-rc.d is Debian's switch for that).
	own_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $as_root tee /usr/sbin/policy-rc.d >/dev/null
		$as_root chmod 755 /usr/sbin/policy-rc.d
		own_policy=yes
	fi
	status=0
	mkdir -p "$top/build"
	log=$top/build/install.log
	echo "check.sh: installing$missing (output in $log)"
	{ $as_root apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq \
			--no-install-recommends $missing; } >"$log" 2>&1 || status=$?
	[ -z "$own_policy" ] || $as_root rm -f /usr/sbin/policy-rc.d
	[ $status -eq 0 ] || failed "the installation" "$log"
	return $status
}

# failed WHAT LOG: the end of LOG and where the rest is, on stderr.
failed() {
	tail -n 30 "$2" >&2
	echo "check.sh: $1 failed; its output is in $2" >&2
}

# build DIR CONFIGURE-ARGS...: configures DIR once (make redoes it when inputs change), builds;
# the output goes to DIR/build.log, configure's warnings (tests it leaves out) to the terminal.
build() {
	echo "check.sh: building in $1/ (output in $top/$1/build.log)"
	dir=$top/$1
	shift
	mkdir -p "$dir"
	log=$dir/build.log
	configure_and_make "$dir" "$@" >"$log" 2>&1 || { failed "the build" "$log"; return 1; }
	grep '^configure: WARNING' "$log" >&2 || true
}

# configure_and_make DIR CONFIGURE-ARGS...: the build's steps, stopping at the first that fails.
configure_and_make() {
	dir=$1
	shift
	{ [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi); } &&
		{ [ -f "$dir/Makefile" ] || (cd "$dir" && "$top/configure" --enable-werror "$@"); } &&
		make -C "$dir" -j"$(nproc)"
}

# suite DIR: runs `make check` and shows every test's own report, failed or not.
suite() {
	status=0
	make -C "$top/$1" -j"$(nproc)" check || status=$?
	for log in "$top/$1"/t/*.log; do
		[ "$(basename "$log")" = test-suite.log ] || cat "$log"
	done
	return $status
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

# fuzz: each target for FUZZ_SECONDS from its committed corpus; finds go to a scratch corpus.
fuzz() {
	dir=$top/build-fuzz
	CC=clang build build-fuzz --enable-sanitizers=fuzzer-no-link,address,undefined
	make -C "$dir" fuzz
	for target in config route template jptr respond fcgi h1; do
		mkdir -p "$dir/corpus/$target"
		echo "fuzz-$target: ${FUZZ_SECONDS:-60} s"
		"$dir/t/fuzz/fuzz-$target" -max_total_time="${FUZZ_SECONDS:-60}" -print_final_stats=1 \
			-artifact_prefix="$dir/crash-$target-" "$dir/corpus/$target" \
			"$top/t/fuzz/corpus/$target" 2>"$dir/fuzz-$target.log" || {
			tail -40 "$dir/fuzz-$target.log"
			echo "check.sh: fuzz-$target crashed; the input is $dir/crash-$target-*" >&2
			return 1
		}
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$dir/fuzz-$target.log"
	done
}

# distcheck_failed: shows the reports of the tests that failed inside the tarball's build (make
# leaves that tree behind on failure), then fails.
distcheck_failed() {
	find "$top"/build/fcgi-fanout-*/_build -name '*.trs' -exec grep -l '^:test-result: FAIL' {} + |
		while read -r trs; do cat "${trs%.trs}.log"; done
	return 1
}

mode=${1:-plain}
[ "$mode" != fuzz ] || packages="$packages clang libclang-rt-14-dev"
install_missing
case $mode in
plain) build build && suite build ;;
build) build build ;;
asan) build build-asan --enable-sanitizers=address,undefined && suite build-asan ;;
tsan) build build-tsan --enable-sanitizers=thread && suite build-tsan ;;
distcheck) build build && { make -C "$top/build" distcheck || distcheck_failed; } ;;
fuzz) fuzz ;;
all) for m in plain asan tsan distcheck; do "$0" "$m"; done ;;
*) echo "usage: t/check.sh [plain|asan|tsan|distcheck|fuzz|all|build]" >&2; exit 2 ;;
esac
