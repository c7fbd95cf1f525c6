#!/usr/bin/env bash
# Compression and cache benchmark, all on loopback, in one run:
#
#  1. A proxied 100 KiB JSON response with compression on: Portico (`--compress`) against
#     nginx (`gzip on`, its default level 1) and Caddy (`encode gzip`), all asked for gzip;
#     then Portico with zstd and brotli. Bytes on the wire and requests per second.
#  2. A cached 100 KiB response (`Cache-Control: max-age=600` from the backend): Portico
#     (`--cache`) against nginx `proxy_cache`. Requests per second, and how many requests
#     reached the backend (should be 1 each).
#
# The backend is nginx serving static files (not the bottleneck); load comes from wrk
# (2 threads, 50 connections). Prints medians of ROUNDS runs and ratios against nginx.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=$TARGET/release/portico

# shellcheck source=bench/lib.sh
source bench/lib.sh

# A 100 KiB JSON document: realistic API output (repetitive keys, varied values).
mkdir -p "$work/www"
python3 - "$work/www/data.json" <<'PY'
import json, random, sys
random.seed(7)
items, size = [], 0
while size < 102400:
    item = {"id": len(items), "name": f"user-{random.randint(0, 10**6)}",
            "email": f"u{random.randint(0, 10**6)}@example.test", "active": random.random() > .5,
            "score": round(random.random() * 1000, 3), "tags": random.sample(["a", "b", "c", "d", "e"], 2)}
    items.append(item)
    size = len(json.dumps(items))
open(sys.argv[1], "w").write(json.dumps(items))
PY
size=$(stat -c %s "$work/www/data.json")

backend=$(free_port); nginx_gzip=$(free_port); nginx_cache=$(free_port)
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/json json; }
  proxy_cache_path $work/nginx-cache keys_zone=bench:10m max_size=256m;
  # The backend: static files, no compression, cacheable for ten minutes.
  server {
    listen 127.0.0.1:$backend;
    root $work/www;
    location / { add_header Cache-Control "max-age=600"; }
  }
  # nginx as a compressing proxy.
  server {
    listen 127.0.0.1:$nginx_gzip;
    gzip on; gzip_types application/json; gzip_proxied any; gzip_min_length 1024;
    location / { proxy_pass http://127.0.0.1:$backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  # nginx as a caching proxy.
  server {
    listen 127.0.0.1:$nginx_cache;
    location / {
      proxy_cache bench; proxy_pass http://127.0.0.1:$backend;
      proxy_http_version 1.1; proxy_set_header Connection "";
      add_header X-Cache \$upstream_cache_status;
    }
  }
}
NGINX
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_port "$backend"; wait_port "$nginx_gzip"; wait_port "$nginx_cache"

# Caddy as a compressing proxy.
caddy_port=$(free_port)
cat > "$work/Caddyfile" <<CADDY
{
  admin off
  auto_https off
}
http://127.0.0.1:$caddy_port {
  encode gzip
  reverse_proxy 127.0.0.1:$backend
}
CADDY
XDG_DATA_HOME="$work/caddy-data" XDG_CONFIG_HOME="$work/caddy-config" \
  caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)
wait_port "$caddy_port"

# Portico: one compressing route and one caching route, plain HTTP, capture paused (the
# capture benchmark measures the inspector).
http=$(free_port); admin=$(free_port)
data="$work/portico"
"$PORTICO" --data-dir "$data" route add gzip.localhost "$backend" --compress >/dev/null
"$PORTICO" --data-dir "$data" route add cache.localhost "$backend" --cache >/dev/null
"$PORTICO" --data-dir "$data" settings set capture_paused true >/dev/null
"$PORTICO" --data-dir "$data" serve --http 127.0.0.1:"$http" --admin 127.0.0.1:"$admin" --no-https \
  >"$work/portico.log" 2>&1 &
pids+=($!)
wait_port "$http"

# wire URL HOST ENCODING -> bytes of the body on the wire, and the encoding the server chose
wire() {
  curl -s -o /dev/null -w '%{size_download} %header{content-encoding}\n' -H "Host: $2" \
    -H "Accept-Encoding: $3" "$1"
}
# rps URL HOST ENCODING -> requests per second (median of ROUNDS)
rps() {
  local r=()
  wrk -t2 -c50 -d1s -H "Host: $2" -H "Accept-Encoding: $3" "$1" >/dev/null 2>&1 # warm-up
  for _ in $(seq 1 "$ROUNDS"); do
    r+=("$(wrk -t2 -c50 -d"${SECONDS_PER_RUN}s" -H "Host: $2" -H "Accept-Encoding: $3" "$1" 2>/dev/null |
      awk '/Requests\/sec/ {print $2}')")
  done
  printf '%s\n' "${r[@]}" | median
}

declare -A bytes enc req
cell() { # name url host encoding
  read -r "bytes[$1]" "enc[$1]" < <(wire "$2" "$3" "$4")
  req[$1]=$(rps "$2" "$3" "$4")
}
cell nginx "http://127.0.0.1:$nginx_gzip/data.json" localhost gzip
cell caddy "http://127.0.0.1:$caddy_port/data.json" 127.0.0.1 gzip
cell portico "http://127.0.0.1:$http/data.json" gzip.localhost gzip
cell portico_zstd "http://127.0.0.1:$http/data.json" gzip.localhost zstd
cell portico_br "http://127.0.0.1:$http/data.json" gzip.localhost br

for name in nginx caddy portico portico_zstd portico_br; do
  [ -n "${enc[$name]}" ] || { echo "$name did not compress (got ${bytes[$name]} bytes)" >&2; exit 1; }
done

printf '\nCompression: a %s-byte JSON response through each proxy (%s cores; wrk -t2 -c50, %s rounds of %ss; medians)\n' \
  "$size" "$(nproc)" "$ROUNDS" "$SECONDS_PER_RUN"
printf '%-22s %10s %8s %10s %12s %14s\n' proxy encoding bytes ratio "req/s" "vs nginx"
for name in nginx caddy portico portico_zstd portico_br; do
  printf '%-22s %10s %8s %10.3f %12.0f %14.2f\n' "$name" "${enc[$name]}" "${bytes[$name]}" \
    "$(echo "${bytes[$name]}/$size" | bc -l)" "${req[$name]}" "$(echo "${req[$name]}/${req[nginx]}" | bc -l)"
done

# Cache: fill, check the second answer is a hit, then measure.
curl -s -o /dev/null "http://127.0.0.1:$nginx_cache/data.json"
curl -s -o /dev/null -H 'Host: cache.localhost' "http://127.0.0.1:$http/data.json"
nginx_status=$(curl -s -o /dev/null -w '%header{x-cache}' "http://127.0.0.1:$nginx_cache/data.json")
portico_status=$(curl -s -o /dev/null -w '%header{cache-status}' -H 'Host: cache.localhost' "http://127.0.0.1:$http/data.json")
case "$nginx_status" in HIT) ;; *) echo "nginx proxy_cache did not hit: $nginx_status" >&2; exit 1 ;; esac
case "$portico_status" in *hit*) ;; *) echo "Portico's cache did not hit: $portico_status" >&2; exit 1 ;; esac
req[nginx_cache]=$(rps "http://127.0.0.1:$nginx_cache/data.json" localhost identity)
req[portico_cache]=$(rps "http://127.0.0.1:$http/data.json" cache.localhost identity)
token=$(cat "$data/admin-token")
misses=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$admin/api/v1/cache" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["misses"])')

printf '\nCache: the same response served from each proxy'"'"'s cache\n'
printf '%-22s %12s %14s\n' proxy "req/s" "vs nginx"
printf '%-22s %12.0f %14.2f\n' "nginx proxy_cache" "${req[nginx_cache]}" 1
printf '%-22s %12.0f %14.2f\n' "portico --cache" "${req[portico_cache]}" \
  "$(echo "${req[portico_cache]}/${req[nginx_cache]}" | bc -l)"
printf 'Portico cache misses during the run (upstream requests): %s\n' "$misses"
