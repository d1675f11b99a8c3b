#!/bin/sh
# run.sh - the benchmark: wrk -> nginx -> fanout-cgi -> fast backends, for every executor, two
# backend profiles and three concurrencies, beside the ceiling (nginx proxying to one backend).
#
#   sh t/bench/run.sh                 everything (under 10 minutes); results in build/bench/
#   BENCH_SECONDS=4 BENCH_EXECUTORS="pool" BENCH_CONNECTIONS="64" sh t/bench/run.sh
#   BENCH_CGI_WRAPPER="valgrind --tool=massif" ...   runs fanout-cgi under a profiler
#
# It installs what it needs, builds, starts one private nginx (front and backends, 127.0.0.1),
# restarts fanout-cgi for every row (so peak RSS and CPU belong to that row), prints a table,
# writes results.csv and results.png, and stops every process it started.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${BENCH_OUT:-$top/build/bench}
seconds=${BENCH_SECONDS:-6}
executors=${BENCH_EXECUTORS:-threads pool serial multi}
connections=${BENCH_CONNECTIONS:-16 64 256}
profiles=${BENCH_PROFILES:-zero slow}
cgi_threads=${BENCH_CGI_THREADS:-300}
keep_conn=${BENCH_KEEP_CONN:-on}
front=${BENCH_PORT:-18480}
backend=$((front + 1))
cgi_port=$((front + 2))

FANOUT_EXTRA_PACKAGES="wrk gnuplot-nox libnginx-mod-http-echo curl" sh "$top/t/check.sh" build

mkdir -p "$out/tmp"
rm -f "$out/results.csv"
nginx_pid=
cgi_pid=
sampler_pid=
stop_all() {
	for pid in $sampler_pid $cgi_pid $nginx_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	sampler_pid= cgi_pid= nginx_pid=
}
trap stop_all EXIT INT TERM

# About 200 bytes of JSON, as the backends of the issue's reference figures answer.
json='{"id":42,"name":"Alice Example","segment":"gold","country":"CH","orders":[{"id":1,"total":12.5},{"id":2,"total":99.9}],"tags":["new","mobile","newsletter"],"updated":"2026-11-26T12:00:00Z"}'

cat > "$out/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 2;
daemon off;
pid $out/nginx.pid;
error_log $out/nginx-error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $out/tmp; fastcgi_temp_path $out/tmp; proxy_temp_path $out/tmp;
    uwsgi_temp_path $out/tmp; scgi_temp_path $out/tmp;

    upstream fanout { server 127.0.0.1:$cgi_port; keepalive 128; }
    upstream backend { server 127.0.0.1:$backend; keepalive 128; }

    server {                                    # the front
        listen 127.0.0.1:$front backlog=4096;
        location /api/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass fanout;
            fastcgi_keep_conn $keep_conn;
        }
        location = /ceiling/zero {
            proxy_pass http://backend/zero; proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /ceiling/slow {
            proxy_pass http://backend/d50; proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {                                    # the backends
        listen 127.0.0.1:$backend backlog=4096;
        default_type application/json;
        location = /zero { return 200 '$json'; }
        location = /d20 { echo_sleep 0.020; echo '$json'; }
        location = /d30 { echo_sleep 0.030; echo '$json'; }
        location = /d50 { echo_sleep 0.050; echo '$json'; }
    }
}
EOF

# One endpoint per executor and profile: three backends each.
endpoint() { # executor profile path1 path2 path3
	printf '    {"path": "/api/%s/%s", "executor": "%s", "timeout_ms": 2000, "backends": [\n' "$1" "$2" "$1"
	printf '      {"name": "profile", "url": "http://127.0.0.1:%s/%s?b=profile"},\n' "$backend" "$3"
	printf '      {"name": "orders", "url": "http://127.0.0.1:%s/%s?b=orders"},\n' "$backend" "$4"
	printf '      {"name": "recommendations", "url": "http://127.0.0.1:%s/%s?b=recs"}]}' "$backend" "$5"
}
{
	printf '{"limits": {"max_inflight": 8192, "pool_threads": 768},\n "endpoints": [\n'
	sep=
	for ex in $executors; do
		printf '%s' "$sep"; endpoint "$ex" zero zero zero zero; sep=',
'
		printf '%s' "$sep"; endpoint "$ex" slow d20 d30 d50
	done
	printf '\n ]}\n'
} > "$out/fanout.json"
"$top/build/fanout-cgi" --check-config "$out/fanout.json" >/dev/null

/usr/sbin/nginx -p "$out" -c "$out/nginx.conf" -e "$out/nginx-error.log" &
nginx_pid=$!

# Waits until `curl URL` answers 200 (a readiness probe, bounded to 10 s).
wait_ok() {
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "run.sh: $1 never answered" >&2; exit 1; }
		sleep 0.05
	done
}
wait_ok "http://127.0.0.1:$front/ceiling/zero"

cgi_start() {
	# The access log is off, as when the README's figures were made (it costs a write(2) per
	# request); BENCH_LOG_FORMAT=text measures it on.
	${BENCH_CGI_WRAPPER:-} "$top/build/fanout-cgi" -c "$out/fanout.json" --listen "127.0.0.1:$cgi_port" \
		--threads "$cgi_threads" --log-format "${BENCH_LOG_FORMAT:-off}" 2>>"$out/fanout.err" &
	cgi_pid=$!
}

cgi_stop() {
	kill "$cgi_pid" 2>/dev/null || true
	wait "$cgi_pid" 2>/dev/null || true
	cgi_pid=
}

# CPU ticks (user + system) of a process.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Samples the thread count of $1 every 0.2 s, keeping the highest in $2.
sample_threads() {
	echo 0 > "$2"
	while kill -0 "$1" 2>/dev/null; do
		n=$(awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
		[ "${n:-0}" -gt "$(cat "$2")" ] && echo "$n" > "$2"
		sleep 0.2
	done
}

# wrk's figures as "rps p50_ms p99_ms errors requests".
wrk_figures() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
		if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
		return v
	}
	/^ +50%/ { p50 = ms($2) }
	/^ +99%/ { p99 = ms($2) }
	/requests in/ { requests = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/Non-2xx or 3xx responses:/ { errors += $NF }
	/Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
	END { printf "%.0f %.2f %.2f %d %d\n", rps, p50, p99, errors, requests }' "$1"
}

# One row: profile executor connections url.
measure() {
	profile=$1 ex=$2 conns=$3 url=$4
	pid=${cgi_pid:-$nginx_pid}
	wrk -t2 -c"$conns" -d1s "$url" >/dev/null 2>&1 || true	# warm-up: connections, caches
	ticks0=$(cpu_ticks "$pid")
	sample_threads "$pid" "$out/threads.max" &
	sampler_pid=$!
	wrk -t2 -c"$conns" -d"${seconds}s" --latency --timeout 5s "$url" > "$out/wrk.txt" 2>&1
	ticks1=$(cpu_ticks "$pid")
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	sampler_pid=
	set -- $(wrk_figures "$out/wrk.txt")
	rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
	threads=$(cat "$out/threads.max")
	cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="$5" \
		'BEGIN { printf "%.0f", (n > 0 ? t * 1000000 / hz / n : 0) }')
	if [ -z "$cgi_pid" ]; then	# the ceiling: no fanout-cgi to measure
		rss=- threads=- cpu_us=-
	fi
	echo "$profile,$ex,$conns,$1,$2,$3,$4,$rss,$threads,$cpu_us" >> "$out/rows.csv"
	printf '%-6s %-8s %5s %9s %9s %9s %7s %8s %8s %9s\n' "$profile" "$ex" "$conns" "$1" "$2" \
		"$3" "$4" "$rss" "$threads" "$cpu_us"
}

rm -f "$out/rows.csv" "$out/fanout.err"
printf '%-6s %-8s %5s %9s %9s %9s %7s %8s %8s %9s\n' profile executor conns req/s p50_ms \
	p99_ms errors rss_MB threads cpu_us/req
for profile in $profiles; do
	for conns in $connections; do
		measure "$profile" ceiling "$conns" "http://127.0.0.1:$front/ceiling/$profile"
		for ex in $executors; do
			cgi_start
			wait_ok "http://127.0.0.1:$front/api/$ex/$profile"
			measure "$profile" "$ex" "$conns" "http://127.0.0.1:$front/api/$ex/$profile"
			cgi_stop
		done
	done
done
stop_all

# Every row's throughput as a ratio of the ceiling's (same profile and concurrency).
awk -F, 'BEGIN { OFS = ","; print "profile,executor,connections,rps,p50_ms,p99_ms,errors,rss_mb,threads,cpu_us_per_req,ratio" }
	{ row[NR] = $0; if ($2 == "ceiling") ceil[$1 "," $3] = $4 }
	END { for (i = 1; i <= NR; i++) { split(row[i], f, ","); c = ceil[f[1] "," f[3]];
		printf "%s,%.2f\n", row[i], (c > 0 ? f[4] / c : 0) } }' "$out/rows.csv" > "$out/results.csv"
echo
echo "ratio to the ceiling (nginx proxying straight to one backend):"
awk -F, 'NR > 1 && $2 != "ceiling" { printf "  %-5s %-8s %4s connections: %s\n", $1, $2, $3, $11 }' \
	"$out/results.csv"

# The chart: req/s by concurrency, one line per executor, for each backend profile. Each line's
# points go to a file of their own, so that gnuplot draws them joined.
cols=$(awk -F, 'NR > 1 { print $2 }' "$out/results.csv" | awk '!seen[$0]++' | tr '\n' ' ')
for profile in $profiles; do
	for c in $cols; do
		awk -F, -v p="$profile" -v c="$c" '$1 == p && $2 == c { print $3, $4 }' \
			"$out/results.csv" > "$out/series-$profile-$c.dat"
	done
done
{
	echo "set terminal pngcairo size 1200,520 font 'sans,10'"
	echo "set output '$out/results.png'"
	echo "set multiplot layout 1,2 title 'fcgi-fanout: 3 backends per request, wrk and everything on 127.0.0.1, 2 cores'"
	echo "set logscale xy; set xrange [12:340]; set xtics (16, 64, 256)"
	echo "set xlabel 'connections'; set ylabel 'requests/s (log)'; set key top left; set grid"
	for profile in $profiles; do
		label="zero-delay backends"
		[ "$profile" = slow ] && label="backends of 20, 30, 50 ms"
		echo "set title '$label'"
		printf "plot "
		sep=
		for c in $cols; do
			printf "%s'%s' using 1:2 with linespoints lw 2 pt 7 title '%s'" \
				"$sep" "$out/series-$profile-$c.dat" "$c"
			sep=", "
		done
		echo
	done
	echo "unset multiplot"
} > "$out/chart.gp"
gnuplot "$out/chart.gp"
echo
echo "wrote $out/results.csv and $out/results.png"
