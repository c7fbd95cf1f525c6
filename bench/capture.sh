#!/usr/bin/env bash
# Capture benchmark: Portico with the inspector capturing every exchange versus paused, in
# one run, for 1 KiB and 100 KiB responses. The backend is nginx serving static files (so
# the backend is not the bottleneck); the load generator is wrk (2 threads, 50 connections).
# Prints requests/s and p99 latency per cell (median of ROUNDS) and the on/off ratios (the
# median of the rounds' own ratios: each round runs on and off back to back).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=${PORTICO:-$TARGET/release/portico}

# shellcheck source=bench/lib.sh
source bench/lib.sh

# Backend: nginx, static files, logging off.
backend=$(free_port)
mkdir -p "$work/www"
# Base64 of 3/4 of the size is exactly the size (and no pipe is cut short under pipefail).
head -c 768 /dev/urandom | base64 -w0 > "$work/www/small"
head -c 76800 /dev/urandom | base64 -w0 > "$work/www/large"
static_backend "$backend"

# Portico, release build, plain HTTP, one route.
http=$(free_port); admin=$(free_port)
start_portico "$PORTICO" "$work/portico" "$backend" "$http" "$admin"
token=$portico_token
capture() { set_capture "$admin" "$token" "$1"; } # on|off

dropped() {
  curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$admin/api/v1/status" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["capture"]["dropped"])'
}

run() { # path -> "rps p99_ms"
  wrk -t2 -c50 -d"${SECONDS_PER_RUN}s" --latency -H 'Host: bench.localhost' \
    "http://127.0.0.1:$http/$1" 2>/dev/null |
    awk '/Requests\/sec/ {rps=$2}
         / 99%/ {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; p99=v}
         END {print rps, p99}'
}

for size in small large; do # the proxy serves what the benchmark claims
  got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H 'Host: bench.localhost' "http://127.0.0.1:$http/$size")
  want=$(stat -c %s "$work/www/$size")
  [ "$got" = "200 $want" ] || { echo "/$size came back with $got bytes, not $want" >&2; exit 1; }
done

# Rounds pair an "on" run with an "off" run back to back, alternating which goes first, and
# each pair gives a ratio: this machine's speed drifts over a minute by more than capture
# costs, and a drift lands on both halves of a pair instead of on one mode's rounds.
declare -A rps p99 ratio lratio
drops_before=$(dropped)
for size in small large; do
  for mode in on off; do capture "$mode"; run "$size" >/dev/null; done  # warm-up
  on_r=(); on_l=(); off_r=(); off_l=(); rr=(); lr=()
  for round in $(seq 1 "$ROUNDS"); do
    order="on off"; [ $((round % 2)) = 0 ] && order="off on"
    for mode in $order; do
      capture "$mode"
      read -r a b < <(run "$size")
      if [ "$mode" = on ]; then on_r+=("$a"); on_l+=("$b"); else off_r+=("$a"); off_l+=("$b"); fi
    done
    rr+=("$(echo "${on_r[-1]}/${off_r[-1]}" | bc -l)")
    lr+=("$(echo "${on_l[-1]}/${off_l[-1]}" | bc -l)")
  done
  rps[$size,on]=$(printf '%s\n' "${on_r[@]}" | median)
  rps[$size,off]=$(printf '%s\n' "${off_r[@]}" | median)
  p99[$size,on]=$(printf '%s\n' "${on_l[@]}" | median)
  p99[$size,off]=$(printf '%s\n' "${off_l[@]}" | median)
  ratio[$size]=$(printf '%s\n' "${rr[@]}" | median)
  lratio[$size]=$(printf '%s\n' "${lr[@]}" | median)
done
stored=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$admin/api/v1/requests?limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["items"][0]["id"] if d["items"] else 0)')

printf '\nCapture benchmark (%s cores; wrk -t2 -c50, %s rounds of an on and an off run of %ss; medians)\n' \
  "$(nproc)" "$ROUNDS" "$SECONDS_PER_RUN"
printf '%-10s %14s %14s %10s %12s %12s %10s\n' response "req/s on" "req/s off" "on/off" "p99 on ms" "p99 off ms" "on/off"
for size in small large; do
  label=$([ "$size" = small ] && echo "1 KiB" || echo "100 KiB")
  printf '%-10s %14.0f %14.0f %10.2f %12.2f %12.2f %10.2f\n' "$label" \
    "${rps[$size,on]}" "${rps[$size,off]}" "${ratio[$size]}" \
    "${p99[$size,on]}" "${p99[$size,off]}" "${lratio[$size]}"
done
printf 'on/off columns: the median of the rounds'"'"' ratios (each round runs both, back to back)\n'
printf 'exchanges captured during the run (highest id): %s\n' "$stored"
# A ratio bought by dropping captures would be meaningless: say so loudly.
printf 'exchanges dropped by capture (queue full): %s\n' "$(( $(dropped) - drops_before ))"
