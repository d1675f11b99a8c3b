#!/bin/sh
# run.sh - the benchmark: wrk -> nginx -> fanout-cgi -> fast backends, for every executor, two
# backend profiles and three concurrencies, beside the ceiling (nginx proxying to one backend) and
# two peers a user would pick instead, answering the same page from the same backends: nginx + Lua
# (ngx.location.capture_multi) and a Go aggregator of the standard library (t/bench/peer-go).
#
#   sh t/bench/run.sh                 everything (under 10 minutes); results in build/bench/
#   BENCH_SECONDS=4 BENCH_EXECUTORS="pool" BENCH_CONNECTIONS="64" sh t/bench/run.sh
#   BENCH_PEERS="go" ...              only the Go peer (default "lua go"; "" for none)
#   BENCH_CGI_WRAPPER="valgrind --tool=massif" ...   runs fanout-cgi under a profiler
#
# It installs what it needs, builds, starts one private nginx (front and backends, 127.0.0.1),
# restarts fanout-cgi and each peer for every row (so peak RSS and CPU belong to that row), prints
# a table, writes results.csv and results.png, and stops every process it started, by pid.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${BENCH_OUT:-$top/build/bench}
seconds=${BENCH_SECONDS:-6}
executors=${BENCH_EXECUTORS:-threads pool serial multi}
connections=${BENCH_CONNECTIONS:-16 64 256}
profiles=${BENCH_PROFILES:-zero slow}
cgi_threads=${BENCH_CGI_THREADS:-300}
keep_conn=${BENCH_KEEP_CONN:-on}
peers=${BENCH_PEERS-lua go}
front=${BENCH_PORT:-18480}
backend=$((front + 1))
cgi_port=$((front + 2))
lua_port=$((front + 3))
go_port=$((front + 4))

FANOUT_EXTRA_PACKAGES="wrk gnuplot-nox libnginx-mod-http-echo curl" sh "$top/t/check.sh" build

mkdir -p "$out/tmp" "$out/lua"
rm -f "$out/results.csv"

# The Debian package a peer needs, and whether what the run uses of it is there.
peer_package() {
	case $1 in lua) echo libnginx-mod-http-lua ;; go) echo golang-go ;; esac
}
peer_present() {
	case $1 in
	lua) [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] &&
		[ -f /usr/lib/nginx/modules/ndk_http_module.so ] ;;
	go) command -v go >/dev/null ;;
	esac
}
# Each peer's package is installed on its own, so that one that cannot be installed skips only
# that peer (the build is done by then: a failure here is the install's).
for peer in $peers; do
	case $peer in
	lua | go) ;;
	*) echo "run.sh: unknown peer '$peer' in BENCH_PEERS (lua, go)" >&2; exit 2 ;;
	esac
done
ready_peers=
for peer in $peers; do
	if FANOUT_EXTRA_PACKAGES=$(peer_package "$peer") sh "$top/t/check.sh" build >/dev/null 2>&1 &&
		peer_present "$peer"; then
		ready_peers="$ready_peers $peer"
	else
		echo "run.sh: skipping the $peer peer: package $(peer_package "$peer") could not be" \
			"installed (see $top/build/install.log)" >&2
	fi
done
peers=$ready_peers

# The Go peer: the standard library only, so the build needs no network (GOPROXY=off) and keeps
# its cache in the build tree.
case " $peers " in *" go "*)
	mkdir -p "$out/go"
	if ! GOCACHE=$out/go/cache GOPATH=$out/go/path GOPROXY=off GOFLAGS= GOTOOLCHAIN=local \
		go build -o "$out/peer-go" "$top/t/bench/peer-go/main.go" 2>"$out/go/build.log"; then
		echo "run.sh: skipping the go peer: it did not build (see $out/go/build.log)" >&2
		peers=$(echo "$peers" | sed 's/ go//')
	fi
esac

nginx_pid=
cgi_pid=
peer_pid=
measured=
sampler_pid=
stop_all() {
	for pid in $sampler_pid $peer_pid $cgi_pid $nginx_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	sampler_pid= peer_pid= cgi_pid= nginx_pid=
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

# The nginx + Lua peer, an nginx of its own (so that its workers' CPU and memory are the peer's
# alone): the page's three backend calls as subrequests made concurrently by capture_multi, over
# kept connections sized for the concurrency, as the Go peer's.
cat > "$out/lua/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 2;
daemon off;
pid $out/lua/nginx.pid;
error_log $out/lua/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $out/tmp; fastcgi_temp_path $out/tmp; proxy_temp_path $out/tmp;
    uwsgi_temp_path $out/tmp; scgi_temp_path $out/tmp;
    upstream backend { server 127.0.0.1:$backend; keepalive 1024; }
    init_by_lua_block {
        -- One page: the three backends at once, then one document as fanout-cgi's.
        function fanout_page(p1, p2, p3)
            local r1, r2, r3 = ngx.location.capture_multi({
                { "/b/" .. p1, { args = "b=profile" } },
                { "/b/" .. p2, { args = "b=orders" } },
                { "/b/" .. p3, { args = "b=recs" } } })
            for _, r in ipairs({ r1, r2, r3 }) do
                if r.status ~= 200 then
                    ngx.status = 502
                    ngx.say('{"error":"backend failed"}')
                    return
                end
            end
            ngx.header.content_type = "application/json"
            ngx.print('{"data":{"profile":', r1.body, ',"orders":', r2.body,
                ',"recommendations":', r3.body, '}}\n')
        end
    }
    server {
        listen 127.0.0.1:$lua_port backlog=4096;
        location = /zero { content_by_lua_block { fanout_page("zero", "zero", "zero") } }
        location = /slow { content_by_lua_block { fanout_page("d20", "d30", "d50") } }
        location ~ ^/b/(zero|d20|d30|d50)\$ {
            internal;
            proxy_pass http://backend/\$1\$is_args\$args;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
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

# The peers, one row each: started, answering, measured, stopped by pid. For nginx + Lua the
# measured processes are its master and workers.
peer_start() { # peer profile connections
	case $1 in
	lua)
		/usr/sbin/nginx -p "$out/lua" -c "$out/lua/nginx.conf" -e "$out/lua/error.log" &
		peer_pid=$!
		wait_ok "http://127.0.0.1:$lua_port/$2"
		measured="$peer_pid $(pgrep -P "$peer_pid" | tr '\n' ' ')"
		;;
	go)
		"$out/peer-go" -listen "127.0.0.1:$go_port" -backend "http://127.0.0.1:$backend" \
			-conns "$3" 2>>"$out/peer-go.err" &
		peer_pid=$!
		wait_ok "http://127.0.0.1:$go_port/$2"
		measured=$peer_pid
		;;
	esac
}

peer_stop() {
	kill "$peer_pid" 2>/dev/null || true
	wait "$peer_pid" 2>/dev/null || true
	peer_pid= measured=
}

peer_url() { # peer profile
	case $1 in
	lua) echo "http://127.0.0.1:$lua_port/$2" ;;
	go) echo "http://127.0.0.1:$go_port/$2" ;;
	esac
}

# CPU ticks (user + system) of processes, summed.
cpu_ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}

# The sum over processes of a /proc/PID/status field in kB (VmHWM, Threads).
status_sum() { # field pid...
	f=$1
	shift
	for p in "$@"; do
		cat "/proc/$p/status" 2>/dev/null || true
	done | awk -v f="$f:" '$1 == f { n += $2 } END { print n + 0 }'
}

# Samples the thread count of the processes $2... every 0.2 s while $2 lives, keeping the
# highest in $1.
sample_threads() {
	max=$1
	shift
	echo 0 > "$max"
	while kill -0 "$1" 2>/dev/null; do
		n=$(status_sum Threads "$@")
		[ "${n:-0}" -gt "$(cat "$max")" ] && echo "$n" > "$max"
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

# One row: profile executor connections url. $measured names the processes whose CPU, peak RSS
# and threads are the row's (fanout-cgi, or a peer's); empty for the ceiling.
measure() {
	profile=$1 ex=$2 conns=$3 url=$4
	pids=${measured:-$nginx_pid}
	wrk -t2 -c"$conns" -d1s "$url" >/dev/null 2>&1 || true	# warm-up: connections, caches
	ticks0=$(cpu_ticks $pids)
	sample_threads "$out/threads.max" $pids &
	sampler_pid=$!
	wrk -t2 -c"$conns" -d"${seconds}s" --latency --timeout 5s "$url" > "$out/wrk.txt" 2>&1
	ticks1=$(cpu_ticks $pids)
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	sampler_pid=
	set -- $(wrk_figures "$out/wrk.txt")
	rss=$(status_sum VmHWM $pids | awk '{ printf "%.1f", $1 / 1024 }')
	threads=$(cat "$out/threads.max")
	cpu_us=$(awk -v t=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v n="$5" \
		'BEGIN { printf "%.0f", (n > 0 ? t * 1000000 / hz / n : 0) }')
	if [ -z "$measured" ]; then	# the ceiling: no fanout-cgi or peer to measure
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
			measured=$cgi_pid
			measure "$profile" "$ex" "$conns" "http://127.0.0.1:$front/api/$ex/$profile"
			measured=
			cgi_stop
		done
		for peer in $peers; do
			peer_start "$peer" "$profile" "$conns"
			measure "$profile" "$peer" "$conns" "$(peer_url "$peer" "$profile")"
			peer_stop
		done
	done
done
stop_all

# Every row's throughput as a ratio of the ceiling's and of the best peer's (same profile and
# concurrency; "-" when no peer ran).
awk -F, 'BEGIN { OFS = ","; print "profile,executor,connections,rps,p50_ms,p99_ms,errors,rss_mb,threads,cpu_us_per_req,ratio,ratio_best_peer" }
	{ row[NR] = $0; k = $1 "," $3; if ($2 == "ceiling") ceil[k] = $4
	  if (($2 == "lua" || $2 == "go") && $4 > best[k]) best[k] = $4 }
	END { for (i = 1; i <= NR; i++) { split(row[i], f, ","); k = f[1] "," f[3]; c = ceil[k]
		printf "%s,%.2f,%s\n", row[i], (c > 0 ? f[4] / c : 0),
			(best[k] > 0 ? sprintf("%.2f", f[4] / best[k]) : "-") } }' \
	"$out/rows.csv" > "$out/results.csv"
echo
echo "ratio to the ceiling (nginx proxying straight to one backend) and to the best peer:"
awk -F, 'NR > 1 && $2 != "ceiling" {
	printf "  %-5s %-8s %4s connections: %s x ceiling, %s x best peer\n", $1, $2, $3, $11, $12 }' \
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
