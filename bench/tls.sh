#!/usr/bin/env bash
# TLS benchmark: Portico against nginx on the same machine, in one run.
#
#  1. Time to first byte over HTTPS for a never-seen host name (Portico issues the leaf on
#     the spot) and for a host whose leaf is cached: each a new TLS connection (curl).
#  2. Full TLS 1.3 handshakes per second (openssl s_time -new; it sends no SNI, so Portico
#     serves its cached localhost leaf), Portico with its on-demand
#     certificates and nginx with a static ECDSA P-256 certificate, both with 2 workers.
#
# Prints a table and ratios. Every process it starts is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}           # runs per handshake cell
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
NAMES=${NAMES:-20}            # TTFB samples per kind
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=${PORTICO:-$TARGET/release/portico}

# shellcheck source=bench/lib.sh
source bench/lib.sh

# A tiny upstream for Portico to forward to.
up_port=$(free_port)
python3 -m http.server "$up_port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
pids+=($!)
echo ok > "$work/index.html"

# Portico, release build.
http_port=$(free_port); https_port=$(free_port); admin_port=$(free_port)
data="$work/portico"
"$PORTICO" --data-dir "$data" route add '*.localhost' "$up_port" --no-https-redirect >/dev/null
"$PORTICO" --data-dir "$data" serve --http 127.0.0.1:"$http_port" --https 127.0.0.1:"$https_port" \
  --admin 127.0.0.1:"$admin_port" >"$work/portico.log" 2>&1 &
pids+=($!)
wait_port "$https_port"
portico_pid=${pids[-1]}

# nginx with a static certificate of the same key type, 2 workers, logging off.
nginx_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=app.localhost -addext subjectAltName=DNS:app.localhost \
  -keyout "$work/nginx.key" -out "$work/nginx.crt" >/dev/null 2>&1
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$nginx_port ssl http2;
    ssl_certificate $work/nginx.crt;
    ssl_certificate_key $work/nginx.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "ok\n"; }
  }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$nginx_port"

ca="$data/ca/root.pem"
ttfb() { # host -> seconds to first byte on a new TLS connection
  curl -s -o /dev/null --cacert "$ca" --resolve "$1:$https_port:127.0.0.1" \
    -w '%{time_starttransfer}\n' "https://$1:$https_port/"
}
# Warm up the cached name once.
ttfb app.localhost >/dev/null
new=$(for i in $(seq 1 "$NAMES"); do ttfb "new-$i-$RANDOM.localhost"; done | median)
cached=$(for i in $(seq 1 "$NAMES"); do ttfb app.localhost; done | median)

handshakes_real() { # wall-clock rate: connections / elapsed real seconds
  openssl s_time -connect 127.0.0.1:"$1" -new -tls1_3 \
    -time "$SECONDS_PER_RUN" 2>/dev/null |
    awk '/connections in .* real seconds/ {print $1/$4; exit}'
}
p_runs=(); n_runs=()
for _ in $(seq 1 "$ROUNDS"); do
  p_runs+=("$(handshakes_real "$https_port")")
  n_runs+=("$(handshakes_real "$nginx_port")")
done
p=$(printf '%s\n' "${p_runs[@]}" | median)
n=$(printf '%s\n' "${n_runs[@]}" | median)
rss=$(awk '/VmRSS/ {print $2}' /proc/"$portico_pid"/status)

printf '\nTLS benchmark (%s; %s rounds of %ss; medians)\n' "$(nproc) cores" "$ROUNDS" "$SECONDS_PER_RUN"
printf '%-52s %12s\n' "measure" "value"
printf '%-52s %10.2f ms\n' "TTFB, new host name (leaf issued on the spot)" "$(echo "$new*1000" | bc -l)"
printf '%-52s %10.2f ms\n' "TTFB, cached host name" "$(echo "$cached*1000" | bc -l)"
printf '%-52s %12.2f\n' "  ratio new / cached" "$(echo "$new/$cached" | bc -l)"
printf '%-52s %12.0f\n' "TLS 1.3 full handshakes/s, Portico" "$p"
printf '%-52s %12.0f\n' "TLS 1.3 full handshakes/s, nginx (static cert)" "$n"
printf '%-52s %12.2f\n' "  ratio Portico / nginx" "$(echo "$p/$n" | bc -l)"
printf '%-52s %9s KiB\n' "Portico RSS after the run" "$rss"
