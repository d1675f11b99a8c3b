#!/bin/sh
# soak.sh - mixed traffic with faulty backends through nginx for SOAK_SECONDS (600), printing
# fanout-cgi's RSS and open descriptors every 30 s; then judges: RSS and descriptors flat within
# 5 % after the warm-up (60 s), and no 5xx but those the faulty endpoints are meant to give.
#
#   sh t/soak.sh                     10 minutes (not part of `make check`)
#   SOAK_SECONDS=120 sh t/soak.sh    shorter
#   SOAK_THREADS (64) and SOAK_CONNECTIONS (32) set fanout-cgi's --threads and wrk's connections
#   SOAK_TUNABLES sets fanout-cgi's GLIBC_TUNABLES; by default the one the systemd unit ships
#   (glibc.malloc.tcache_count=0, see README "Memory over time"); SOAK_TUNABLES= runs glibc's defaults
#
# It starts its own nginx, mock backend and fanout-cgi on 127.0.0.1 and stops them by pid.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${SOAK_OUT:-$top/build/soak}
seconds=${SOAK_SECONDS:-600}
threads=${SOAK_THREADS:-64}
connections=${SOAK_CONNECTIONS:-32}
tunables=${SOAK_TUNABLES-glibc.malloc.tcache_count=0}
period=30
warmup=60
front=${SOAK_PORT:-18580}
cgi_port=$((front + 1))

FANOUT_EXTRA_PACKAGES="wrk curl" sh "$top/t/check.sh" build
make -C "$top/build" -s t/mock-backend

rm -rf "$out"
mkdir -p "$out/tmp"
mock_pid= nginx_pid= cgi_pid= wrk_pid=
stop_all() {
	for pid in $wrk_pid $nginx_pid $cgi_pid $mock_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	wrk_pid= nginx_pid= cgi_pid= mock_pid=
}
trap stop_all EXIT INT TERM

"$top/build/t/mock-backend" "$out/mock.port" 2>"$out/mock.err" &
mock_pid=$!
i=0
until [ -s "$out/mock.port" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "soak: the mock did not start" >&2; exit 1; }
	sleep 0.05
done
mock=$(cat "$out/mock.port")

# Healthy endpoints on every executor, and the faulty ones (each says what it may answer).
cat > "$out/fanout.json" <<EOF
{"limits": {"max_inflight": 512, "pool_threads": 32},
 "endpoints": [
  {"path": "/api/ok/threads", "executor": "threads", "backends": [
    {"name": "a", "url": "http://127.0.0.1:$mock/a?delay=5"},
    {"name": "b", "url": "http://127.0.0.1:$mock/b?delay=10"},
    {"name": "c", "url": "http://127.0.0.1:$mock/c?value=gold"},
    {"name": "d", "url": "http://127.0.0.1:$mock/d?seg={c./value}"}]},
  {"path": "/api/ok/pool", "executor": "pool", "backends": [
    {"name": "a", "url": "http://127.0.0.1:$mock/a?delay=5"},
    {"name": "b", "url": "http://127.0.0.1:$mock/b?delay=10"}]},
  {"path": "/api/ok/multi", "executor": "multi", "backends": [
    {"name": "a", "url": "http://127.0.0.1:$mock/a?delay=5"},
    {"name": "b", "url": "http://127.0.0.1:$mock/b?delay=10"}]},
  {"path": "/api/partial", "executor": "multi", "backends": [
    {"name": "a", "url": "http://127.0.0.1:$mock/a"},
    {"name": "bad", "url": "http://127.0.0.1:$mock/x?body=invalid", "required": false},
    {"name": "big", "url": "http://127.0.0.1:$mock/g?body=big&size=5000&chunked=1",
     "max_body_bytes": 1000, "required": false},
    {"name": "reset", "url": "http://127.0.0.1:$mock/r?reset=1", "required": false}]},
  {"path": "/api/fault/timeout", "timeout_ms": 100, "backends": [
    {"name": "slow", "url": "http://127.0.0.1:$mock/s?delay=300"}]},
  {"path": "/api/fault/status", "executor": "pool", "backends": [
    {"name": "down", "url": "http://127.0.0.1:$mock/d?status=503"}]},
  {"path": "/api/fault/refused", "executor": "multi", "backends": [
    {"name": "gone", "url": "http://127.0.0.1:1/"}]}
 ]}
EOF

cat > "$out/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $out/nginx.pid;
error_log $out/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $out/tmp; fastcgi_temp_path $out/tmp; proxy_temp_path $out/tmp;
    uwsgi_temp_path $out/tmp; scgi_temp_path $out/tmp;
    upstream fanout { server 127.0.0.1:$cgi_port; keepalive 32; }
    server {
        listen 127.0.0.1:$front;
        location /api/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass fanout;
            fastcgi_keep_conn on;
        }
        location = /metrics { include /etc/nginx/fastcgi_params; fastcgi_pass fanout; }
    }
}
EOF

# wrk picks one path per request, round-robin over a weighted list.
cat > "$out/mix.lua" <<'EOF'
local paths = { "/api/ok/threads", "/api/ok/pool", "/api/ok/multi", "/api/ok/threads",
	"/api/ok/multi", "/api/partial", "/api/fault/timeout", "/api/fault/status",
	"/api/fault/refused", "/api/nothing" }
local i = 0
request = function()
	i = i % #paths + 1
	return wrk.format("GET", paths[i])
end
EOF

echo "soak: ${seconds} s, fanout-cgi --threads $threads, wrk $connections connections, GLIBC_TUNABLES=${tunables:-(glibc's defaults)}"
GLIBC_TUNABLES=$tunables "$top/build/fanout-cgi" -c "$out/fanout.json" --listen "127.0.0.1:$cgi_port" \
	--threads "$threads" --log-format off 2>"$out/fanout.err" &
cgi_pid=$!
/usr/sbin/nginx -p "$out" -c "$out/nginx.conf" -e "$out/nginx-error.log" &
nginx_pid=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$front/api/ok/multi")" = 200 ]; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "soak: the stack did not start" >&2; exit 1; }
	sleep 0.1
done

wrk -t2 -c"$connections" -d"${seconds}s" --timeout 5s -s "$out/mix.lua" "http://127.0.0.1:$front" \
	>"$out/wrk.txt" 2>&1 &
wrk_pid=$!

sample() { # seconds: prints and records "t rss_kb fds idle_curl_handles"
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$cgi_pid/status")
	fds=$(ls "/proc/$cgi_pid/fd" | wc -l)
	idle=$(curl -s "http://127.0.0.1:$front/metrics" | awk '/^fanout_curl_handles_idle / { print $2 }')
	echo "$1 $rss $fds ${idle:-0}" >> "$out/samples.txt"
	printf '%5ss  RSS %6.1f MB  descriptors %4d  idle curl handles %4d\n' "$1" \
		"$(echo "$rss" | awk '{ print $1 / 1024 }')" "$fds" "${idle:-0}"
}
t=0
while [ $t -lt "$seconds" ]; do
	sleep $period
	t=$((t + period))
	kill -0 "$cgi_pid" 2>/dev/null || { echo "soak: fanout-cgi died" >&2; exit 1; }
	sample $t
done
wait "$wrk_pid" || true
wrk_pid=
curl -s "http://127.0.0.1:$front/metrics" > "$out/metrics.txt"
stop_all
cat "$out/wrk.txt"

# The verdict. Faulty endpoints may give 502 (status, refused) and 504 (timeout); nothing else
# may give a 5xx.
bad5xx=$(awk '/^fanout_requests_total/ && /status="5/ && !/fault/ { n += $2 } END { print n + 0 }' \
	"$out/metrics.txt")
awk -v warmup=$warmup -v bad="$bad5xx" '
	$1 >= warmup && !first { first = 1; rss0 = $2; fd0 = $3 }
	{ rss1 = $2; fd1 = $3; if ($3 > fdmax) fdmax = $3 }
	END {
		growth = (rss1 - rss0) * 100 / rss0
		printf "\nRSS after warm-up %.1f MB, at the end %.1f MB (%+.1f %%); descriptors %d -> %d (max %d); unexpected 5xx: %d\n", \
			rss0 / 1024, rss1 / 1024, growth, fd0, fd1, fdmax, bad
		# Descriptors include the connections of the requests in flight at the instant of
		# the sample: flat means within the same 5 %, not equal.
		ok = growth <= 5 && growth >= -5 && fd1 <= fd0 * 1.05 && bad == 0
		print ok ? "soak: PASS" : "soak: FAIL"
		exit ok ? 0 : 1
	}' "$out/samples.txt"
