#!/bin/sh
# demo.sh - the demo in one command: nginx on 127.0.0.1:8080 serving www/ and passing /api/ to
# fanout-cgi, and the demo backends (nginx too, on 127.0.0.1:8081). Ctrl-C stops everything.
#
#   sh www/demo.sh                          installs what is missing, builds, starts, waits; what
#                                           apt and the build print is in build/install.log and
#                                           build/build.log (t/check.sh), on the terminal only if
#                                           they fail
#   DEMO_PORT=9080 DEMO_BACKEND_PORT=9081   other ports
#   FANOUT_CGI=build/fanout-cgi             use that program: no install, no build (the tests)
#   DEMO_SERVER=event                       fanout-cgi --server event (or threads)
#
# The backends are fake services with fixed delays: profile 40 ms, orders 70 ms,
# recommendations 60 ms (it needs the profile's segment), weather 30 ms, and flaky, which
# answers after 20 ms, or fails (?mode=fail) or takes 2 s (?mode=slow) on demand.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8080}
backend_port=${DEMO_BACKEND_PORT:-8081}
run=${DEMO_DIR:-$top/build/demo}

if [ -z "${FANOUT_CGI:-}" ]; then
	FANOUT_EXTRA_PACKAGES="libnginx-mod-http-echo curl" sh "$top/t/check.sh" build
	FANOUT_CGI=$top/build/fanout-cgi
fi
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
[ -f "$echo_module" ] || { echo "demo: $echo_module is missing (libnginx-mod-http-echo)" >&2; exit 1; }

for p in "$port" "$backend_port"; do
	if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"; then
		echo "demo: something already answers on 127.0.0.1:$p; set DEMO_PORT and DEMO_BACKEND_PORT" >&2
		exit 1
	fi
done
rm -rf "$run"
mkdir -p "$run/tmp"
nginx_pid= cgi_pid=
stop() {
	for pid in $nginx_pid $cgi_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	nginx_pid= cgi_pid=
	rm -f "$run/fanout.sock"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

sed "s/127\.0\.0\.1:8081/127.0.0.1:$backend_port/g" "$top/www/demo-config.json" > "$run/fanout.json"

# The backends' answers: plausible JSON, the same every time.
# The workers run as whoever runs the demo, so that they may read www/ wherever it was cloned
# (say under /root) and connect to fanout-cgi's socket.
cat > "$run/nginx.conf" <<EOF
load_module $echo_module;
user $(id -un) $(id -gn);
worker_processes 1;
daemon off;
pid $run/nginx.pid;
error_log $run/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path $run/tmp; fastcgi_temp_path $run/tmp; proxy_temp_path $run/tmp;
    uwsgi_temp_path $run/tmp; scgi_temp_path $run/tmp;

    upstream fanout { server unix:$run/fanout.sock; keepalive 8; }

    server {                                    # the page and the API
        listen 127.0.0.1:$port;
        root $top/www;
        index index.html;
        location /api/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass fanout;
            fastcgi_keep_conn on;
        }
        location ~ \.(sh|json|example|service)$ { return 404; }
    }

    server {                                    # the demo backends
        listen 127.0.0.1:$backend_port;
        default_type application/json;
        location ~ ^/profile/([A-Za-z0-9_-]+)$ {
            echo_sleep 0.040;
            echo '{"user":"\$1","name":"Alice Example","segment":"gold","member_since":"2019-04-01","locale":"de-CH"}';
        }
        location ~ ^/orders/([A-Za-z0-9_-]+)$ {
            echo_sleep 0.070;
            echo '{"user":"\$1","orders":[{"id":1042,"total":59.90,"status":"shipped"},{"id":1057,"total":12.50,"status":"processing"}]}';
        }
        location = /recommendations {
            echo_sleep 0.060;
            echo '{"segment":"\$arg_segment","items":[{"sku":"B-17","title":"Trail running shoes"},{"sku":"K-02","title":"Headlamp, 400 lm"}]}';
        }
        location = /weather {
            echo_sleep 0.030;
            echo '{"city":"\$arg_city","temp_c":4,"sky":"cloudy","wind_kmh":12}';
        }
        location = /flaky {
            if (\$arg_mode = fail) { return 503 '{"error":"flaky is down"}'; }
            if (\$arg_mode = slow) { echo_sleep 2; echo '{"late":true}'; }
            echo_sleep 0.020;
            echo '{"ok":true}';
        }
    }
}
EOF

# The server: fanout-cgi's default, or DEMO_SERVER's; --threads is the threads server's alone.
case ${DEMO_SERVER:-} in
"") server_args="--threads 16" ;;
threads) server_args="--server threads --threads 16" ;;
*) server_args="--server $DEMO_SERVER" ;;
esac
# As the systemd unit runs it: glibc's per-thread malloc caches off (README "Memory over time").
# shellcheck disable=SC2086 # server_args: several words
GLIBC_TUNABLES=glibc.malloc.tcache_count=0 "$FANOUT_CGI" -c "$run/fanout.json" \
	--listen "$run/fanout.sock" $server_args 2>"$run/fanout-cgi.log" &
cgi_pid=$!
/usr/sbin/nginx -p "$run" -c "$run/nginx.conf" -e "$run/nginx-error.log" &
nginx_pid=$!

i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$port/api/threads/page/alice?city=Zurich")" = 200 ]; do
	i=$((i + 1))
	if [ $i -ge 100 ] || ! kill -0 "$cgi_pid" 2>/dev/null || ! kill -0 "$nginx_pid" 2>/dev/null; then
		echo "demo: the stack did not start; see $run/*.log" >&2
		exit 1
	fi
	sleep 0.1
done

cat <<EOF

  fcgi-fanout demo: http://127.0.0.1:$port/

  Try:
    curl -s 'http://127.0.0.1:$port/api/serial/page/alice?city=Zurich'
    curl -s 'http://127.0.0.1:$port/api/threads/page/alice?city=Zurich'
    curl -s 'http://127.0.0.1:$port/api/threads/flaky/alice?mode=fail'

  Logs in $run. Ctrl-C stops nginx and fanout-cgi.
EOF
wait "$cgi_pid"
