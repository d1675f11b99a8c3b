#!/bin/sh
# browser.sh - the demo page in headless Chromium, through the demo stack (www/demo.sh): runs
# serial and threads, checks from the DOM that threads took well under serial and that every
# backend's bar is drawn, and saves a screenshot. Skipped (77) without chromium or nginx's echo
# module. Run by `make check` from the build directory, once per server (t/server.sh).
set -u

srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
build=$(pwd)
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	echo "browser: SKIP: chromium is not installed (apt-get install chromium)"
	exit 77
fi
if [ ! -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]; then
	echo "browser: SKIP: the demo backends need libnginx-mod-http-echo"
	exit 77
fi

fail() {
	echo "browser: FAIL: $*"
	exit 1
}

run=$build/t/browser-demo
shot=$build/t/browser-demo.png
# Two neighbouring ports that no socket uses (per the kernel's socket tables), starting from one
# the pid picks so that parallel runs spread out, below the ephemeral range: the load tests
# before this one leave thousands of connections in TIME-WAIT on ephemeral ports, and nginx
# cannot bind one of those.
listening() { # port: true if a TCP socket of any state has it as its local port
	awk -v p="$(printf '%04X' "$1")" 'FNR > 1 && substr($2, length($2) - 3) == p \
		{ found = 1 } END { exit !found }' $(ls /proc/net/tcp /proc/net/tcp6 2>/dev/null)
}
ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral" -gt 21000 ] 2>/dev/null || ephemeral=32768
first=$((20000 + $$ % (ephemeral - 20200)))
port=$first
while listening "$port" || listening $((port + 1)); do
	port=$((port + 2))
	[ $port -lt $((first + 200)) ] || fail "no two free ports in $first-$((first + 199))"
done
backend_port=$((port + 1))
demo_pid=
cleanup() {
	[ -z "$demo_pid" ] || { kill -TERM "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; }
	rm -rf "$build/t/browser-profile"
}
trap cleanup EXIT

# The server under test (t/server.sh sets it), or fanout-cgi's default.
FANOUT_CGI=$build/fanout-cgi DEMO_PORT=$port DEMO_BACKEND_PORT=$backend_port DEMO_DIR=$run \
	DEMO_SERVER=${FANOUT_TEST_SERVER:-} sh "$top/www/demo.sh" >"$build/t/browser-demo.out" 2>&1 &
demo_pid=$!
i=0
until grep -q "fcgi-fanout demo:" "$build/t/browser-demo.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] && kill -0 "$demo_pid" 2>/dev/null ||
		{ cat "$build/t/browser-demo.out"; fail "the demo did not start"; }
	sleep 0.1
done

# Chromium as the issue gives it; --virtual-time-budget lets the page's fetches finish before
# the DOM is taken.
browse() {
	"$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$build/t/browser-profile" --virtual-time-budget=20000 "$@" \
		2>>"$build/t/browser-chromium.err"
}
url="http://127.0.0.1:$port/?run=serial,threads"
dom=$(browse --dump-dom "$url") || fail "chromium --dump-dom failed"

echo "$dom" | grep -q 'data-done="serial,threads"' || fail "the runs did not finish"
total() { # executor: its data-total-ms, whole milliseconds
	echo "$dom" | grep -o "<article class=\"run\" data-executor=\"$1\"[^>]*>" |
		sed -n 's/.*data-total-ms="\([0-9]*\).*/\1/p'
}
serial=$(total serial)
threads=$(total threads)
[ -n "$serial" ] && [ -n "$threads" ] || fail "no total time in the DOM"
echo "browser: serial ${serial} ms, threads ${threads} ms"
# The backends wait 40 + 70 + 60 + 30 ms one after another, and 40 + 60 on the critical path.
[ "$threads" -lt $((serial * 3 / 4)) ] || fail "threads (${threads} ms) is not well below serial (${serial} ms)"
for b in profile orders recommendations weather; do
	n=$(echo "$dom" | grep -o "data-backend=\"$b\" data-outcome=\"ok\"" | wc -l)
	[ "$n" -eq 2 ] || fail "backend $b: $n ok bars drawn, 2 expected"
done

rm -f "$shot"
browse --window-size=1280,900 --screenshot="$shot" "$url" >/dev/null || fail "no screenshot"
[ -s "$shot" ] || fail "the screenshot is empty"
echo "browser: screenshot $shot"

# Ctrl-C's job: everything the demo started is gone, its socket too.
kill -TERM "$demo_pid"
wait "$demo_pid"
demo_pid=
nginx_pid=$(cat "$run/nginx.pid" 2>/dev/null || true)
[ -z "$nginx_pid" ] || ! kill -0 "$nginx_pid" 2>/dev/null || fail "nginx $nginx_pid still runs"
! pgrep -f "$run/fanout.json" >/dev/null || fail "fanout-cgi still runs"
[ ! -e "$run/fanout.sock" ] || fail "the socket $run/fanout.sock is left"
echo "browser: PASS"
