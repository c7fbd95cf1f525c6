#!/usr/bin/env bash
# Where Portico's time goes: the HTTP/1.1 cell of the benchmarks (1 KiB, or 100 KiB with
# BODY_KIB=100; wrk -t2 -c50 through Portico to a static nginx backend), with capture on and
# paused, each measured twice:
# - CPU per request: the proxy's user + system time (/proc/PID/stat) over a run, divided by
#   the requests wrk completed (no profiler attached);
# - a `perf record --call-graph dwarf` of a second run, summarised as the top symbols by self
#   time and the share of samples under a few functions of interest.
# First, capture runs for PREFILL seconds (default 10): the log then holds more than its
# retention count (100,000 by default), so the runs measure capture as it is on a log in use,
# with retention deleting a row for every row recorded (on an empty log that cost is missing).
# The release build carries line tables, so the profiles name source lines. Reports go to
# $OUT (default: a temp dir, printed) as perf-on.data / perf-off.data for `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PREFILL=${PREFILL:-10}
BODY_KIB=${BODY_KIB:-1} # the response's size: 1 (the 1 KiB cell) or 100 (the 100 KiB one)
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=${PORTICO:-$TARGET/release/portico}
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source bench/lib.sh
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

backend=$(free_port)
mkdir -p "$work/www"
head -c $((BODY_KIB * 768)) /dev/urandom | base64 -w0 > "$work/www/small"
static_backend "$backend"

http=$(free_port); admin=$(free_port)
start_portico "$PORTICO" "$work/portico" "$backend" "$http" "$admin"
proxy=$portico_pid
capture() { set_capture "$admin" "$portico_token" "$1"; } # on|off
load() { # seconds -> requests completed
  wrk -t2 -c50 -d"$1s" -H 'Host: bench.localhost' "http://127.0.0.1:$http/small" 2>/dev/null |
    awk '/requests in/ {print $1}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$proxy/stat"; }
tck=$(getconf CLK_TCK)

capture on
echo "prefill: $(load "$PREFILL") exchanges captured"
for mode in off on; do
  capture "$mode"
  load 1 >/dev/null # warm-up
  before=$(cpu_ticks)
  requests=$(load "$SECONDS_PER_RUN")
  after=$(cpu_ticks)
  echo "capture $mode: $requests requests, $(echo "($after - $before) / $tck * 1000000 / $requests" | bc -l | xargs printf '%.1f') µs of proxy CPU each"
  perf record -q -F 999 --call-graph dwarf,16384 -p "$proxy" -o "$OUT/perf-$mode.data" \
    -- sleep "$SECONDS_PER_RUN" >/dev/null 2>&1 &
  recorder=$!
  load "$SECONDS_PER_RUN" >/dev/null
  wait "$recorder" || true
done

for mode in off on; do
  echo
  echo "== capture $mode: top symbols by self time (perf report -i $OUT/perf-$mode.data)"
  perf report -i "$OUT/perf-$mode.data" --no-children --sort dso,symbol --stdio -g none \
    --percent-limit 1 2>/dev/null | grep '%' | grep -v '^#' | cut -c1-150 | head -25
  echo "-- share of samples under:"
  perf report -i "$OUT/perf-$mode.data" --children --sort symbol --stdio -g none 2>/dev/null |
    grep -E 'Inspector::begin|Capture::response|TeeBody|TrafficStore::insert|sqlite3_step|RouteTable::find|Proxy::forward\b|__GI___writev|__libc_recv|\bmi_free\b|_mi_page_malloc' |
    cut -c1-150 | head -20
done
echo
echo "profiles kept in $OUT"
