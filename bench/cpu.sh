#!/usr/bin/env bash
# Where a proxied request's CPU goes, Portico against nginx: the HTTP/1.1 1 KiB cell of the
# benchmarks (wrk -t2 -c50 for SECONDS_PER_RUN s, to the same static nginx backend), nginx
# (2 workers, as in bench/compare.sh) and one or two Portico builds, interleaved in each of
# ROUNDS rounds. Per run: requests/s, p99, and per request the proxy's user and system CPU
# time (/proc/PID/task/*/stat, all threads or worker processes), its context switches, and
# with SYSCALLS=1 its system calls by kind (perf stat on the syscall tracepoints).
#   PORTICO=path [PORTICO_B=path] [CAPTURE=on|off] bench/cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-4}
CAPTURE=${CAPTURE:-off}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=${PORTICO:-$TARGET/release/portico}
PORTICO_B=${PORTICO_B:-}

# shellcheck source=bench/lib.sh
source bench/lib.sh

backend=$(free_port)
mkdir -p "$work/www"
head -c 768 /dev/urandom | base64 -w0 > "$work/www/small"
static_backend "$backend"

# nginx as the proxy (bench/lib.sh), as in bench/compare.sh.
nginx_port=$(free_port)
proxy_nginx "$backend" "$nginx_port"
nginx_pid=$proxy_nginx_pid
wait_port "$nginx_port"

declare -A port pid
names=(nginx)
port[nginx]=$nginx_port
for build in a b; do
  binary=$PORTICO; [ "$build" = b ] && binary=$PORTICO_B
  [ -n "$binary" ] || continue
  http=$(free_port); admin=$(free_port)
  start_portico "$binary" "$work/portico-$build" "$backend" "$http" "$admin"
  set_capture "$admin" "$portico_token" "$CAPTURE"
  port[portico-$build]=$http; pid[portico-$build]=$portico_pid
  names+=("portico-$build")
done

tick=$(getconf CLK_TCK)
# The processes a proxy runs as: nginx's master and workers, or Portico's one.
procs() { if [ "$1" = nginx ]; then echo "$nginx_pid" $(pgrep -P "$nginx_pid"); else echo "${pid[$1]}"; fi; }
# User ticks, system ticks and context switches of every thread of the processes given.
usage() {
  local stats=() statuses=() p
  for p in "$@"; do stats+=(/proc/"$p"/task/*/stat); statuses+=(/proc/"$p"/task/*/status); done
  read -r u k < <(cat "${stats[@]}" | awk '{u+=$14; k+=$15} END {print u, k}')
  echo "$u" "$k" "$(cat "${statuses[@]}" | awk '/ctxt_switches/ {s+=$2} END {print s}')"
}

printf '%-6s %-10s %9s %8s %12s %12s %10s\n' round proxy "req/s" "p99 ms" "user µs/req" "sys µs/req" "cs/req"
for round in $(seq 1 "$ROUNDS"); do
  for name in "${names[@]}"; do
    read -r -a ps <<< "$(procs "$name")"
    read -r u0 k0 c0 < <(usage "${ps[@]}")
    if [ -n "${SYSCALLS:-}" ]; then
      perf stat -x, -o "$work/syscalls" -p "$(IFS=,; echo "${ps[*]}")" -e 'raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex' &
      perf_pid=$!; sleep 0.2
    fi
    out=$(wrk --latency -t2 -c50 -d"${SECONDS_PER_RUN}s" -H 'Host: bench.localhost' "http://127.0.0.1:${port[$name]}/small" 2>/dev/null)
    read -r u1 k1 c1 < <(usage "${ps[@]}")
    if [ -n "${SYSCALLS:-}" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '/ 99%/ {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}')
    printf '%-6s %-10s %9.0f %8.2f %12.1f %12.1f %10.2f\n' "$round" "$name" "$rps" "$p99" \
      "$(echo "($u1-$u0)*1000000/$tick/$reqs" | bc -l)" "$(echo "($k1-$k0)*1000000/$tick/$reqs" | bc -l)" \
      "$(echo "($c1-$c0)/$reqs" | bc -l)"
    if [ -n "${SYSCALLS:-}" ]; then
      awk -F, -v r="$reqs" '/sys_enter/ && $1 > 0 {printf "         %-36s %6.2f per request\n", $3, $1 / r}' "$work/syscalls"
    fi
  done
done
printf '\nCapture %s; wrk -t2 -c50, %s s per run; nginx with 2 workers, access log off.\n' "$CAPTURE" "$SECONDS_PER_RUN"
