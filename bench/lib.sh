# Shared by the benchmark scripts (sourced, not run): a work dir removed on exit, processes
# stopped by PID on exit, free loopback ports, waiting for a port, medians, and a static nginx
# backend.
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
  portico_token=$(cat "$2/admin-token")
}

# Capture on or paused (`on` or `off` in $3) through the admin API at port $1 with token $2.
set_capture() {
  local paused=true; [ "$3" = on ] && paused=false
  curl -sf -o /dev/null -X PATCH -H "Authorization: Bearer $2" -H 'content-type: application/json' \
    -d "{\"capture_paused\": $paused}" "http://127.0.0.1:$1/api/v1/settings"
}
