#!/usr/bin/env bash
# Two builds of Portico side by side, for a change whose effect is smaller than this
# machine's drift: both serve at once (one route each to the same static nginx backend), and
# runs alternate between them, so a drift lands on both. Per round and build, a capture-off
# and a capture-on run of wrk (-t2 -c50, SECONDS_PER_RUN s, BODY_KIB KiB responses) report
# the proxy's CPU per request (/proc/PID/task/*/stat), split into the two busiest threads
# (the runtime's workers) and the rest (the recorder's writes on the blocking pool), and
# req/s. Both logs are first filled past their retention count (PREFILL s of capture), so
# retention's deletes are measured too.
#   OLD=path/to/portico NEW=path/to/portico bench/builds.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
PREFILL=${PREFILL:-8}
BODY_KIB=${BODY_KIB:-1}
: "${OLD:?set OLD to the first build}" "${NEW:?set NEW to the second build}"

# shellcheck source=bench/lib.sh
source bench/lib.sh

backend=$(free_port)
mkdir -p "$work/www"
head -c $((BODY_KIB * 768)) /dev/urandom | base64 -w0 > "$work/www/small"
static_backend "$backend"

declare -A port admin token pid
for build in old new; do
  binary=$OLD; [ "$build" = new ] && binary=$NEW
  port[$build]=$(free_port); admin[$build]=$(free_port)
  start_portico "$binary" "$work/$build" "$backend" "${port[$build]}" "${admin[$build]}"
  pid[$build]=$portico_pid; token[$build]=$portico_token
done

capture() { set_capture "${admin[$1]}" "${token[$1]}" "$2"; } # build on|off
load() { # build seconds -> requests completed
  wrk -t2 -c50 -d"$2s" -H 'Host: bench.localhost' "http://127.0.0.1:${port[$1]}/small" 2>/dev/null |
    awk '/requests in/ {print $1}'
}
threads() { # build -> "tid ticks" per thread
  for task in /proc/"${pid[$1]}"/task/*; do awk '{print $1, $14 + $15}' "$task/stat"; done
}
split() { # before after requests -> "workers µs/req  rest µs/req"
  python3 - "$@" "$(getconf CLK_TCK)" <<'PY'
import sys
before, after, requests, tck = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = dict(line.split() for line in open(before))
t1 = dict(line.split() for line in open(after))
used = sorted((int(t1[t]) - int(t0.get(t, 0)) for t in t1), reverse=True)
us = lambda ticks: ticks / tck * 1e6 / requests
print(f"{us(sum(used[:2])):.1f} {us(sum(used[2:])):.1f}")
PY
}

for build in old new; do capture "$build" on; load "$build" "$PREFILL" >/dev/null; done
printf '%-6s %-6s %-8s %14s %14s %10s\n' round build capture "workers µs/req" "rest µs/req" "req/s"
for round in $(seq 1 "$ROUNDS"); do
  for build in old new; do
    for mode in off on; do
      capture "$build" "$mode"
      load "$build" 1 >/dev/null # warm-up
      threads "$build" >"$work/before"
      requests=$(load "$build" "$SECONDS_PER_RUN")
      threads "$build" >"$work/after"
      read -r workers rest < <(split "$work/before" "$work/after" "$requests")
      printf '%-6s %-6s %-8s %14s %14s %10d\n' "$round" "$build" "$mode" "$workers" "$rest" \
        $((requests / SECONDS_PER_RUN))
    done
  done
done
