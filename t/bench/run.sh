#!/bin/sh
# run.sh - the benchmark: wrk -> nginx -> fanout-cgi -> fast backends, for each of fanout-cgi's
# servers and executors, three backend profiles and several concurrencies, beside the ceiling (nginx
# proxying to one backend) and two peers a user would pick instead, answering the same page from the
# same backends: nginx + Lua (ngx.location.capture_multi) and a Go aggregator of the standard
# library (t/bench/peer-go).
#
#   sh t/bench/run.sh                 everything (about 10 minutes); results in build/bench/
#   BENCH_SECONDS=4 BENCH_SERVERS=event BENCH_EXECUTORS=multi BENCH_PROFILES=zero \
#     BENCH_CONNECTIONS=64 sh t/bench/run.sh
#   BENCH_ZERO_CONNECTIONS=64 BENCH_SLOW_CONNECTIONS=256 sh t/bench/run.sh
#                                     issue 13's target rows in one run, each beside the peers:
#                                     0 ms at 64 connections, 20/30/50 ms at 256, 2,000 clients
#
# Knobs, from the environment [default]:
#   BENCH_SECONDS [6]         each row's measured run, after 1 s of warm-up
#   BENCH_PROFILES [zero slow c2000]
#                             zero: backends that answer at once; slow: backends of 20, 30, 50 ms;
#                             c2000: slow's backends and 2,000 clients, the front keeping up to
#                             1,024 FastCGI connections (nginx `keepalive 1024`), fanout-cgi with its
#                             default options (neither BENCH_CGI_THREADS nor BENCH_LOOPS)
#   BENCH_CONNECTIONS [16 64 256]      wrk's connections for zero and slow
#   BENCH_ZERO_CONNECTIONS, BENCH_SLOW_CONNECTIONS [BENCH_CONNECTIONS]   the same, one profile's
#   BENCH_C2000_CONNECTIONS [2000]     wrk's connections for c2000
#   BENCH_SERVERS [event threads]      fanout-cgi's servers (--server S). A fanout-cgi without
#                             --server runs its only one, threads, and the event rows are skipped
#   BENCH_EXECUTORS [threads pool serial multi]
#   BENCH_CGI_THREADS [300]   --threads N of the threads server
#   BENCH_LOOPS [fanout-cgi's default]  --loops N of the event server
#   BENCH_KEEP_CONN [on]      the front's fastcgi_keep_conn
#   BENCH_LOG_FORMAT [off]    fanout-cgi's access log (it costs a write(2) per request)
#   BENCH_CLIENT [auto]       each backend's "client": auto (the event server's multi executor
#                             takes the lean HTTP/1.1 client) or curl (curl everywhere)
#   BENCH_PEERS [lua go]      the peers, "" for none
#   BENCH_CGI_WRAPPER []      a command to run fanout-cgi under ("valgrind --tool=massif")
#   BENCH_PORT [18480]        the first of the five 127.0.0.1 ports it listens on
#   BENCH_OUT [build/bench]   where everything is written
#
# results.csv has a line per row: profile, server (event, threads; "-" for the ceiling and the
# peers), executor (an executor, or ceiling, lua, go), connections, rps, p50_ms, p99_ms, non2xx
# and socket_errors (wrk's counts), rss_mb (peak, VmHWM: fanout-cgi's, or the peer's processes
# summed), threads (peak), cpu_us_per_req_cgi (CPU time per request of fanout-cgi; of a peer's
# processes), cpu_us_per_req_with_front (the same plus the front nginx's master and workers; the
# ceiling's is the front alone; a peer has no front, it is its cgi figure), ratio (req/s over the
# ceiling's) and ratio_best_peer (over the faster peer's; "-" without peers), both at the same
# profile and connections.
#
# It installs what it needs, builds, starts two private nginx (the front; the backends), restarts
# fanout-cgi and each peer for every row (so peak RSS and CPU belong to that row), prints a table,
# writes results.csv and results.png, and stops every process it started, by pid.
# shellcheck disable=SC2086,SC3045 # lists of pids and options split on purpose; dash's ulimit -Hn
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${BENCH_OUT:-$top/build/bench}
seconds=${BENCH_SECONDS:-6}
profiles=${BENCH_PROFILES:-zero slow c2000}
connections=${BENCH_CONNECTIONS:-16 64 256}
servers=${BENCH_SERVERS-event threads}
executors=${BENCH_EXECUTORS:-threads pool serial multi}
cgi_threads=${BENCH_CGI_THREADS:-300}
loops=${BENCH_LOOPS:-}
keep_conn=${BENCH_KEEP_CONN:-on}
client=${BENCH_CLIENT:-auto}
case $client in auto|curl) ;; *) echo "run.sh: BENCH_CLIENT is auto or curl" >&2; exit 2 ;; esac
peers=${BENCH_PEERS-lua go}
front=${BENCH_PORT:-18480}
backend=$((front + 1))
cgi_port=$((front + 2))
lua_port=$((front + 3))
go_port=$((front + 4))
cgi=$top/build/fanout-cgi

# must_be_among KNOB ALLOWED VALUE...: exits 2 on the first VALUE of KNOB that is not ALLOWED.
must_be_among() {
	knob=$1 allowed=$2
	shift 2
	for v in "$@"; do
		case " $allowed " in
		*" $v "*) ;;
		*) echo "run.sh: unknown '$v' in $knob ($allowed)" >&2; exit 2 ;;
		esac
	done
}
must_be_among BENCH_PROFILES "zero slow c2000" $profiles
must_be_among BENCH_SERVERS "event threads" $servers
must_be_among BENCH_PEERS "lua go" $peers

# c2000's clients need more descriptors than the usual 1,024: wrk, each nginx, fanout-cgi (its
# FastCGI connections and up to three backend connections per request) inherit this limit.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
	nofile=65536
fi
ulimit -n "$nofile"
case " $profiles " in *" c2000 "*)
	[ "$nofile" -ge 10240 ] || echo "run.sh: the descriptor limit (ulimit -Hn) is $nofile;" \
		"c2000 needs about 10,000: expect socket errors" >&2
esac

FANOUT_EXTRA_PACKAGES="wrk gnuplot-nox libnginx-mod-http-echo curl" sh "$top/t/check.sh" build

# A fanout-cgi without --server (before the event server) has the threads server only.
if "$cgi" --help 2>&1 | grep -q -- '--server'; then
	server_option=yes
else
	server_option=
	case " $servers " in *" event "*)
		echo "run.sh: skipping the event server's rows: this fanout-cgi has no --server option" >&2
	esac
	kept=
	for s in $servers; do
		[ "$s" = event ] || kept="$kept $s"
	done
	servers=$kept
fi

mkdir -p "$out/front/tmp" "$out/backends/tmp" "$out/lua/tmp"
rm -f "$out/results.csv" "$out/rows.csv" "$out/fanout.err" "$out"/series-*.dat

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
	if ! GOCACHE=$out/go/cache GOPATH=$out/go/path GOPROXY=off GOFLAGS='' GOTOOLCHAIN=local \
		go build -o "$out/peer-go" "$top/t/bench/peer-go/main.go" 2>"$out/go/build.log"; then
		echo "run.sh: skipping the go peer: it did not build (see $out/go/build.log)" >&2
		peers=$(echo "$peers" | sed 's/ go//')
	fi
esac

front_pid=
backends_pid=
cgi_pid=
peer_pid=
sampler_pid=
measured=
fronted=

# Stops a process this script started: SIGTERM, then SIGKILL if it has not gone within 10 s (a
# drain that never ends must not hold the run).
stop_pid() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
stop_all() {
	for pid in $sampler_pid $peer_pid $cgi_pid $front_pid $backends_pid; do
		stop_pid "$pid"
	done
	sampler_pid='' peer_pid='' cgi_pid='' front_pid='' backends_pid=''
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# nginx_head DIR MODULE...: the start of the config of a private nginx whose prefix is DIR, up to
# inside its http block: the modules, 2 workers in the foreground, c2000's descriptors, no access
# log, kept client connections, temporary files in DIR/tmp.
nginx_head() {
	prefix=$1
	shift
	for module in "$@"; do
		echo "load_module /usr/lib/nginx/modules/$module;"
	done
	cat <<EOF
worker_processes 2;
worker_rlimit_nofile $nofile;
daemon off;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/tmp; fastcgi_temp_path $prefix/tmp; proxy_temp_path $prefix/tmp;
    uwsgi_temp_path $prefix/tmp; scgi_temp_path $prefix/tmp;
EOF
}

# About 200 bytes of JSON, as the backends of the issue's reference figures answer.
json='{"id":42,"name":"Alice Example","segment":"gold","country":"CH","orders":[{"id":1,"total":12.5},{"id":2,"total":99.9}],"tags":["new","mobile","newsletter"],"updated":"2026-11-26T12:00:00Z"}'

# The backends: an nginx of their own, so that the front's CPU is the front's alone.
{
	nginx_head "$out/backends" ngx_http_echo_module.so
	cat <<EOF
    server {
        listen 127.0.0.1:$backend backlog=4096;
        default_type application/json;
        location = /zero { return 200 '$json'; }
        location = /d20 { echo_sleep 0.020; echo '$json'; }
        location = /d30 { echo_sleep 0.030; echo '$json'; }
        location = /d50 { echo_sleep 0.050; echo '$json'; }
    }
}
EOF
} > "$out/backends/nginx.conf"

# The front: fanout-cgi over kept FastCGI connections, and the ceiling (one proxied backend).
{
	nginx_head "$out/front"
	cat <<EOF
    upstream fanout { server 127.0.0.1:$cgi_port; keepalive 128; }
    upstream fanout_c2000 { server 127.0.0.1:$cgi_port; keepalive 1024; }
    upstream backend { server 127.0.0.1:$backend; keepalive 128; }

    server {
        listen 127.0.0.1:$front backlog=4096;
        location /api/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass fanout;
            fastcgi_keep_conn $keep_conn;
        }
        location ~ ^/api/[a-z]+/c2000\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass fanout_c2000;
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
}
EOF
} > "$out/front/nginx.conf"

# The nginx + Lua peer, an nginx of its own (so that its workers' CPU and memory are the peer's
# alone): the page's three backend calls as subrequests made concurrently by capture_multi, over
# kept connections sized for the concurrency, as the Go peer's.
{
	nginx_head "$out/lua" ndk_http_module.so ngx_http_lua_module.so
	cat <<EOF
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
} > "$out/lua/nginx.conf"

# The page a profile asks of the ceiling and the peers: c2000's backends are slow's.
page_of() {
	case $1 in zero) echo zero ;; *) echo slow ;; esac
}

# The connection counts measured for a profile.
connections_of() {
	case $1 in
	zero) echo "${BENCH_ZERO_CONNECTIONS:-$connections}" ;;
	slow) echo "${BENCH_SLOW_CONNECTIONS:-$connections}" ;;
	c2000) echo "${BENCH_C2000_CONNECTIONS:-2000}" ;;
	esac
}

# One endpoint per executor and profile: three backends each.
endpoint() { # executor profile path1 path2 path3
	printf '    {"path": "/api/%s/%s", "executor": "%s", "timeout_ms": 2000, "backends": [\n' "$1" "$2" "$1"
	printf '      {"name": "profile", "url": "http://127.0.0.1:%s/%s?b=profile", "client": "%s"},\n' "$backend" "$3" "$client"
	printf '      {"name": "orders", "url": "http://127.0.0.1:%s/%s?b=orders", "client": "%s"},\n' "$backend" "$4" "$client"
	printf '      {"name": "recommendations", "url": "http://127.0.0.1:%s/%s?b=recs", "client": "%s"}]}' "$backend" "$5" "$client"
}
{
	printf '{"limits": {"max_inflight": 8192, "pool_threads": 768},\n "endpoints": [\n'
	sep=
	for ex in $executors; do
		printf '%s' "$sep"; endpoint "$ex" zero zero zero zero; sep=',
'
		printf '%s' "$sep"; endpoint "$ex" slow d20 d30 d50
		printf '%s' "$sep"; endpoint "$ex" c2000 d20 d30 d50
	done
	printf '\n ]}\n'
} > "$out/fanout.json"
"$cgi" --check-config "$out/fanout.json" >/dev/null

# Waits until `curl URL` answers 200 (a readiness probe, bounded to 10 s).
wait_ok() {
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "run.sh: $1 never answered" >&2; exit 1; }
		sleep 0.05
	done
}

/usr/sbin/nginx -p "$out/backends" -c "$out/backends/nginx.conf" -e "$out/backends/error.log" &
backends_pid=$!
/usr/sbin/nginx -p "$out/front" -c "$out/front/nginx.conf" -e "$out/front/error.log" &
front_pid=$!
wait_ok "http://127.0.0.1:$backend/zero"
wait_ok "http://127.0.0.1:$front/ceiling/zero"
front_pids="$front_pid $(pgrep -P "$front_pid" | tr '\n' ' ')"

# Starts fanout-cgi as SERVER for a row of PROFILE. c2000 keeps fanout-cgi's defaults, as a user
# who sizes nothing; the access log is off unless BENCH_LOG_FORMAT.
cgi_start() { # server profile
	options=
	[ -z "$server_option" ] || options="--server $1"
	if [ "$2" != c2000 ]; then
		case $1 in
		threads) options="$options --threads $cgi_threads" ;;
		event) [ -z "$loops" ] || options="$options --loops $loops" ;;
		esac
	fi
	${BENCH_CGI_WRAPPER:-} "$cgi" -c "$out/fanout.json" --listen "127.0.0.1:$cgi_port" $options \
		--log-format "${BENCH_LOG_FORMAT:-off}" 2>>"$out/fanout.err" &
	cgi_pid=$!
}

# The peers, one row each: started, answering, measured, stopped by pid. The measured processes
# are the whole peer: for nginx + Lua its master and workers.
peer_start() { # peer page connections
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

peer_url() { # peer page
	case $1 in
	lua) echo "http://127.0.0.1:$lua_port/$2" ;;
	go) echo "http://127.0.0.1:$go_port/$2" ;;
	esac
}

# CPU ticks (user + system, all threads) of processes, summed; 0 for none.
cpu_ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$t"
}

# Microseconds of CPU per request: ticks requests.
per_request() {
	awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
		'BEGIN { printf "%.0f", (n > 0 ? t * 1000000 / hz / n : 0) }'
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
	while kill -0 "$1" 2>/dev/null; do
		n=$(status_sum Threads "$@")
		[ "${n:-0}" -gt "$(cat "$max")" ] && echo "$n" > "$max"
		sleep 0.2
	done
}

# wrk's figures as "rps p50_ms p99_ms non2xx socket_errors requests".
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
	/Non-2xx or 3xx responses:/ { non2xx += $NF }
	/Socket errors:/ { gsub(/,/, ""); socket += $4 + $6 + $8 + $10 }
	END { printf "%.0f %.2f %.2f %d %d %d\n", rps, p50, p99, non2xx, socket, requests }' "$1"
}

row_format='%-5s %-7s %-8s %5s %7s %8s %8s %7s %7s %7s %7s %7s %7s\n'

# One row: profile server executor connections url. $measured names the row's own processes
# (fanout-cgi, or a peer's), empty for the ceiling; $fronted the front nginx's when the row goes
# through it. CPU counts from the end of the warm-up to the end of the run.
measure() {
	profile=$1 server=$2 ex=$3 conns=$4 url=$5
	wrk -t2 -c"$conns" -d1s "$url" >/dev/null 2>&1 || true	# warm-up: connections, caches
	own0=$(cpu_ticks $measured) front0=$(cpu_ticks $fronted)
	echo 0 > "$out/threads.max"
	if [ -n "$measured" ]; then
		sample_threads "$out/threads.max" $measured &
		sampler_pid=$!
	fi
	wrk -t2 -c"$conns" -d"${seconds}s" --latency --timeout 5s "$url" > "$out/wrk.txt" 2>&1
	own1=$(cpu_ticks $measured) front1=$(cpu_ticks $fronted)
	stop_pid "$sampler_pid"
	sampler_pid=
	# shellcheck disable=SC2046 # six words
	set -- $(wrk_figures "$out/wrk.txt")
	rss=- threads=- cpu_cgi=-
	if [ -n "$measured" ]; then
		rss=$(status_sum VmHWM $measured | awk '{ printf "%.1f", $1 / 1024 }')
		threads=$(cat "$out/threads.max")
		cpu_cgi=$(per_request $((own1 - own0)) "$6")
	fi
	cpu_all=$(per_request $((own1 - own0 + front1 - front0)) "$6")
	echo "$profile,$server,$ex,$conns,$1,$2,$3,$4,$5,$rss,$threads,$cpu_cgi,$cpu_all" >> "$out/rows.csv"
	# shellcheck disable=SC2059 # the format is the table's
	printf "$row_format" "$profile" "$server" "$ex" "$conns" "$1" "$2" "$3" "$4" "$5" "$rss" \
		"$threads" "$cpu_cgi" "$cpu_all"
}

echo "CPU: µs per request, of fanout-cgi (or the peer) alone (cgi_us) and with the front nginx (all_us)"
# shellcheck disable=SC2059
printf "$row_format" profile server executor conns req/s p50_ms p99_ms non2xx sockerr rss_MB \
	threads cgi_us all_us
for profile in $profiles; do
	page=$(page_of "$profile")
	for conns in $(connections_of "$profile"); do
		fronted=$front_pids
		measure "$profile" - ceiling "$conns" "http://127.0.0.1:$front/ceiling/$page"
		for server in $servers; do
			for ex in $executors; do
				cgi_start "$server" "$profile"
				wait_ok "http://127.0.0.1:$front/api/$ex/$profile"
				measured=$cgi_pid
				measure "$profile" "$server" "$ex" "$conns" \
					"http://127.0.0.1:$front/api/$ex/$profile"
				measured=
				stop_pid "$cgi_pid"
				cgi_pid=
			done
		done
		fronted=
		for peer in $peers; do
			peer_start "$peer" "$page" "$conns"
			measure "$profile" - "$peer" "$conns" "$(peer_url "$peer" "$page")"
			measured=
			stop_pid "$peer_pid"
			peer_pid=
		done
	done
done
stop_all

# Every row's throughput as a ratio of the ceiling's and of the best peer's (same profile and
# connections; "-" when no peer ran).
awk -F, 'BEGIN { OFS = ","; print "profile,server,executor,connections,rps,p50_ms,p99_ms,non2xx,socket_errors,rss_mb,threads,cpu_us_per_req_cgi,cpu_us_per_req_with_front,ratio,ratio_best_peer" }
	{ row[NR] = $0; k = $1 "," $4; if ($3 == "ceiling") ceil[k] = $5
	  if (($3 == "lua" || $3 == "go") && $5 > best[k]) best[k] = $5 }
	END { for (i = 1; i <= NR; i++) { split(row[i], f, ","); k = f[1] "," f[4]; c = ceil[k]
		printf "%s,%.2f,%s\n", row[i], (c > 0 ? f[5] / c : 0),
			(best[k] > 0 ? sprintf("%.2f", f[5] / best[k]) : "-") } }' \
	"$out/rows.csv" > "$out/results.csv"

# A row's name: server/executor for fanout-cgi, else ceiling, lua or go.
# shellcheck disable=SC2016 # awk's fields
name_awk='function name() { return $2 == "-" ? $3 : $2 "/" $3 }
'
echo
echo "req/s over the ceiling's (nginx proxying straight to one backend) and over the best peer's:"
awk -F, "$name_awk"'
	NR > 1 && $3 != "ceiling" {
	printf "  %-5s %-15s %4s connections: %s x ceiling, %s x best peer\n", $1, name(), $4, $14, $15 }' \
	"$out/results.csv"

# Issue 13's targets, for each server its fastest executor in the row, where the run has the row.
awk -F, '
function mark(ok) { return ok ? "met" : "NOT met" }
function over(a, b) { return b > 0 ? sprintf("%.3f", a / b) : "-" }
NR > 1 && $2 == "-" { other[$1 "," $4, $3] = $5 }
NR > 1 && $2 != "-" {
	k = $1 "," $4
	if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
	if (!((k, $2) in fastest) || $5 > fastest[k, $2]) { fastest[k, $2] = $5; row[k, $2] = $0 }
}
END {
	for (i = 1; i <= n; i++) {
		s = order[i]
		if (("zero,64", s) in row) {
			split(row["zero,64", s], f, ",")
			lua = other["zero,64", "lua"]; go = other["zero,64", "go"]
			printf "  0 ms, 64 connections, %s/%s: %s x lua (>= 0.6: %s), %s x go (>= 1.5: %s), " \
				"%s us/req with its front (<= 80: %s)\n", s, f[3], over(f[5], lua),
				mark(lua > 0 && f[5] >= 0.6 * lua), over(f[5], go), mark(go > 0 && f[5] >= 1.5 * go),
				f[13], mark(f[13] <= 80)
		}
		if (("slow,256", s) in row) {
			split(row["slow,256", s], f, ",")
			c = other["slow,256", "ceiling"]
			printf "  20/30/50 ms, 256 connections, %s/%s: %s x ceiling (>= 0.98: %s), p99 %s ms " \
				"(<= 60: %s), %s MB (<= 16: %s)\n", s, f[3], over(f[5], c),
				mark(c > 0 && f[5] >= 0.98 * c), f[7], mark(f[7] <= 60), f[10], mark(f[10] <= 16)
		}
		if (("c2000,2000", s) in row) {
			split(row["c2000,2000", s], f, ",")
			lua = other["c2000,2000", "lua"]
			printf "  2,000 clients, %s/%s: %s x lua (>= 0.6: %s), %d errors (none: %s), p99 %s x p50 " \
				"(<= 3: %s), %s MB (<= 30: %s)\n", s, f[3], over(f[5], lua),
				mark(lua > 0 && f[5] >= 0.6 * lua), f[8] + f[9], mark(f[8] + f[9] == 0),
				over(f[7], f[6]), mark(f[6] > 0 && f[7] <= 3 * f[6]), f[10], mark(f[10] <= 30)
		}
	}
}' "$out/results.csv" > "$out/targets.txt"
if [ -s "$out/targets.txt" ]; then
	echo
	echo "issue 13's targets, each server's fastest executor in the row:"
	cat "$out/targets.txt"
fi

# The chart: req/s by concurrency, one line per server/executor and peer, for zero and slow (c2000
# has one concurrency). Each line's points go to a file of their own, so that gnuplot draws them
# joined.
charted=
for profile in $profiles; do
	[ "$profile" = c2000 ] || charted="$charted $profile"
done
[ -n "$charted" ] || { echo; echo "wrote $out/results.csv"; exit 0; }
names=$(awk -F, "$name_awk"' NR > 1 { print name() }' "$out/results.csv" | awk '!seen[$0]++')
for profile in $charted; do
	for n in $names; do
		awk -F, -v p="$profile" -v n="$n" "$name_awk"' $1 == p && name() == n { print $4, $5 }' \
			"$out/results.csv" > "$out/series-$profile-$(echo "$n" | tr / -).dat"
	done
done
{
	echo "set terminal pngcairo size 1200,520 font 'sans,10'"
	echo "set output '$out/results.png'"
	echo "set multiplot layout 1,$(echo $charted | wc -w) title 'fcgi-fanout: 3 backends per request, wrk and everything on 127.0.0.1, 2 cores'"
	echo "set logscale xy; set xrange [12:340]; set xtics (16, 64, 256)"
	echo "set xlabel 'connections'; set ylabel 'requests/s (log)'; set key top left; set grid"
	for profile in $charted; do
		label="zero-delay backends"
		[ "$profile" = slow ] && label="backends of 20, 30, 50 ms"
		echo "set title '$label'"
		printf "plot "
		sep=
		for n in $names; do
			printf "%s'%s' using 1:2 with linespoints lw 2 pt 7 title '%s'" \
				"$sep" "$out/series-$profile-$(echo "$n" | tr / -).dat" "$n"
			sep=", "
		done
		echo
	done
	echo "unset multiplot"
} > "$out/chart.gp"
gnuplot "$out/chart.gp"
echo
echo "wrote $out/results.csv and $out/results.png"
