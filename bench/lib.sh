# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): a work dir removed on exit, processes
# stopped by PID on exit, free loopback ports, waiting for a port, medians, a static nginx
# backend, and nginx as a reverse proxy to it.
# Expects `set -euo pipefail` in the caller.

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run unprivileged and must read files under it
# Portico keeps route names in this hosts file, never the machine's /etc/hosts.
export PORTICO_HOSTS_FILE="$work/hosts"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 100); do
    (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $1 never opened" >&2; exit 1
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# A backend: nginx (1 worker, logging off) serving $work/www as static files on port $1.
static_backend() {
  cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  server { listen 127.0.0.1:$1; root $work/www; }
}
NGINX
  nginx -c "$work/nginx.conf" -g 'daemon off;' &
  pids+=($!)
  wait_port "$1"
}

# nginx as the reverse proxy the benchmarks compare Portico with: 2 workers (one per core,
# like Portico's lanes), access log off, keep-alive to the backend on port $1 (64 idle
# connections per worker) and to clients (keepalive_requests raised from its default 1000,
# after which nginx closes a connection, HTTP/2 included, because Caddy and Portico have no
# such limit). Plain HTTP on port $2; with $3, HTTPS (HTTP/1.1 and HTTP/2) on that port with
# $work/bench.crt and $work/bench.key. Sets `proxy_nginx_pid`; the caller waits for the ports.
proxy_nginx() {
  local tls=""
  if [ -n "${3:-}" ]; then
    tls="listen 127.0.0.1:$3 ssl http2;
    ssl_certificate $work/bench.crt;
    ssl_certificate_key $work/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;"
  fi
  cat > "$work/proxy-nginx.conf" <<NGINX
worker_processes 2;
${want_fds:+worker_rlimit_nofile $want_fds;}
pid $work/proxy-nginx.pid;
error_log $work/proxy-nginx-error.log;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$1; keepalive 64; }
  server {
    listen 127.0.0.1:$2;
    $tls
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
NGINX
  nginx -c "$work/proxy-nginx.conf" -g 'daemon off;' &
  proxy_nginx_pid=$!; pids+=("$proxy_nginx_pid")
}

# Portico ($1, the binary) with its data in $2 and one route, bench.localhost -> backend port $3,
# serving plain HTTP on port $4 and the admin API on $5, logging to $2.log. Returns once both
# ports are open and the admin token is written; sets `portico_pid` and `portico_token`.
start_portico() {
  "$1" --data-dir "$2" route add bench.localhost "$3" >/dev/null
  "$1" --data-dir "$2" serve --http 127.0.0.1:"$4" --admin 127.0.0.1:"$5" --no-https \
    >"$2.log" 2>&1 &
  portico_pid=$!; pids+=("$portico_pid")
  wait_port "$4"; wait_port "$5"
  for _ in $(seq 1 100); do [ -s "$2/admin-token" ] && break; sleep 0.05; done
  # shellcheck disable=SC2034 # read by the scripts that source this file
  portico_token=$(cat "$2/admin-token")
}

# Capture on or paused (`on` or `off` in $3) through the admin API at port $1 with token $2.
set_capture() {
  local paused=true; [ "$3" = on ] && paused=false
  curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $2" -H 'content-type: application/json' \
    -d "{\"capture_paused\": $paused}" "http://127.0.0.1:$1/api/v1/settings"
}
