#!/usr/bin/env bash
# Portico against nginx and Caddy as reverse proxies, all on loopback, in one run.
#
# One backend (nginx, 1 worker, logging off, static 1 KiB and 100 KiB files). In front of it,
# each proxying to it with keep-alive to the upstream:
#   - nginx: worker_processes 2, access_log off, upstream keepalive 64 per worker;
#   - Caddy: GOMAXPROCS=2, no access log (none unless asked), 128 idle upstream connections;
#   - Portico: release `portico serve`, one route, its runtime as shipped (one worker thread
#     per core, here 2), capture ON (its default).
# nginx and Caddy get an ECDSA P-256 certificate for bench.localhost (the key type Portico
# issues); Portico uses its own CA. wrk and h2load verify no certificate for any of them.
#
# The matrix (each cell ROUNDS times for SECONDS_PER_RUN s after a 1 s warm-up, the proxies
# interleaved round by round, medians):
#   HTTP/1.1 plain   wrk -t2 -c50            1 KiB and 100 KiB, plus the backend directly
#   HTTPS HTTP/1.1   wrk -t2 -c50            1 KiB and 100 KiB
#   HTTPS HTTP/2     h2load -t2 -c50 -m10    1 KiB and 100 KiB
#   new TLS conns    h2load -t2 -c N -n N    one request per new connection (full handshake)
# Then Portico's memory: RSS right after start, with IDLE_CONNS idle keep-alive connections
# (bench/idle_conns.py) and, in a second fresh Portico, with EXCHANGES captured exchanges
# stored.
#
# Prints one table with requests/s, p50 and p99 per cell and proxy and the ratios against
# nginx and against the backend directly. Every process it starts is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
NEW_CONNS=${NEW_CONNS:-400}        # connections per h2load batch in the new-TLS cell
IDLE_CONNS=${IDLE_CONNS:-10000}
EXCHANGES=${EXCHANGES:-100000}     # Portico's default capture_retention_count
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
PORTICO=$TARGET/release/portico

need=0
for tool in nginx caddy wrk h2load bc python3 openssl curl; do
  command -v "$tool" >/dev/null || need=1
done
[ "$need" -eq 0 ] || scripts/install-deps.sh --bench
[ -x "$PORTICO" ] || { echo "no release build at $PORTICO (make build, or cargo build --release -p portico)" >&2; exit 1; }

# Every client and server started below inherits this; 10,000 connections need 10,000
# descriptors in the client and as many again in the proxy.
want_fds=$((IDLE_CONNS * 2 + 4096))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$want_fds" ] || ulimit -Hn "$want_fds" 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 1024)) ]; then
  echo "open-file limit $(ulimit -n) is too low for $IDLE_CONNS connections" >&2; exit 1
fi

# shellcheck source=bench/lib.sh
source bench/lib.sh

# pid -> "VmRSS RssAnon RssFile" in KiB (file: mapped pages of the binary and of files such
# as the capture database, which the kernel can drop under pressure)
rss() { awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print r, a, f}' /proc/"$1"/status; }
mib() { echo "scale=1; $1/1024" | bc; }
show_rss() { # "rss anon file" -> "R MiB (anon A, file F)"
  local r a f
  read -r r a f <<< "$1"
  printf '%s MiB (anon %s, file %s)' "$(mib "$r")" "$(mib "$a")" "$(mib "$f")"
}

# The backend.
backend=$(free_port)
mkdir -p "$work/www"
# Base64 of 3/4 of the size is exactly the size (and no pipe is cut short under pipefail).
head -c 768 /dev/urandom | base64 -w0 > "$work/www/small"
head -c 76800 /dev/urandom | base64 -w0 > "$work/www/large"
printf ok > "$work/www/tiny"
static_backend "$backend"

# One certificate for nginx and Caddy.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=bench.localhost -addext subjectAltName=DNS:bench.localhost \
  -keyout "$work/bench.key" -out "$work/bench.crt" >/dev/null 2>&1

# nginx as the proxy (bench/lib.sh), plain and HTTPS.
nginx_http=$(free_port); nginx_https=$(free_port)
proxy_nginx "$backend" "$nginx_http" "$nginx_https"

# Caddy as the proxy. No HTTP/3 (the others have none); default_sni because wrk sends the
# address it connects to as the server name.
caddy_http=$(free_port); caddy_https=$(free_port)
cat > "$work/Caddyfile" <<CADDY
{
  admin off
  auto_https off
  default_sni bench.localhost
  servers {
    protocols h1 h2
  }
}
http://:$caddy_http {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:$backend {
    transport http {
      keepalive_idle_conns_per_host 128
    }
  }
}
https://:$caddy_https {
  bind 127.0.0.1
  tls $work/bench.crt $work/bench.key
  reverse_proxy 127.0.0.1:$backend {
    transport http {
      keepalive_idle_conns_per_host 128
    }
  }
}
CADDY
GOMAXPROCS=2 XDG_DATA_HOME="$work/caddy-data" XDG_CONFIG_HOME="$work/caddy-config" \
  caddy run --config "$work/Caddyfile" --adapter caddyfile >"$work/caddy.log" 2>&1 &
pids+=($!)

# Portico, release build, one route, plain and HTTPS, capture as shipped (on).
portico_http=$(free_port); portico_https=$(free_port); admin=$(free_port)
data="$work/portico"
"$PORTICO" --data-dir "$data" route add bench.localhost "$backend" --no-https-redirect >/dev/null
"$PORTICO" --data-dir "$data" serve --http 127.0.0.1:"$portico_http" --https 127.0.0.1:"$portico_https" \
  --admin 127.0.0.1:"$admin" >"$work/portico.log" 2>&1 &
pids+=($!)
portico_pid=$!
for port in "$nginx_http" "$nginx_https" "$caddy_http" "$caddy_https" "$portico_http" "$portico_https" "$admin"; do
  wait_port "$port"
done
sleep 2
idle_rss=$(rss "$portico_pid")
token=$(cat "$data/admin-token")
api() { curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$1/api/v1/$2"; }

declare -A http_port https_port
http_port=([direct]=$backend [nginx]=$nginx_http [caddy]=$caddy_http [portico]=$portico_http)
https_port=([nginx]=$nginx_https [caddy]=$caddy_https [portico]=$portico_https)

# Each proxy serves the right file over each protocol before anything is measured.
check() { # what want curl-args...
  local what=$1 want=$2 got; shift 2
  got=$(curl -sk -o /dev/null -w '%{http_code} %{size_download} %{http_version}' "$@")
  [ "$got" = "$want" ] || { echo "$what came back as '$got', not '$want'" >&2; exit 1; }
}
for size in small large; do
  n=$(stat -c %s "$work/www/$size")
  check "direct /$size" "200 $n 1.1" "http://127.0.0.1:$backend/$size"
  for p in nginx caddy portico; do
    check "$p plain /$size" "200 $n 1.1" -H 'Host: bench.localhost' "http://127.0.0.1:${http_port[$p]}/$size"
    check "$p https h1 /$size" "200 $n 1.1" --http1.1 --resolve "bench.localhost:${https_port[$p]}:127.0.0.1" \
      "https://bench.localhost:${https_port[$p]}/$size"
    check "$p https h2 /$size" "200 $n 2" --http2 --resolve "bench.localhost:${https_port[$p]}:127.0.0.1" \
      "https://bench.localhost:${https_port[$p]}/$size"
    # wrk sends the address as the server name: the TLS listener must still answer.
    check "$p https h1 /$size, no name" "200 $n 1.1" --http1.1 -H 'Host: bench.localhost' \
      "https://127.0.0.1:${https_port[$p]}/$size"
  done
done

# What each TLS listener negotiates with h2load (the same client for all the TLS cells).
declare -A tls_params
for p in nginx caddy portico; do
  tls_params[$p]=$(h2load -n1 -c1 --connect-to 127.0.0.1:"${https_port[$p]}" "https://bench.localhost:${https_port[$p]}/small" 2>/dev/null |
    awk -F': ' '/^TLS Protocol/ {v=$2} /^Cipher/ {c=$2} /^Server Temp Key/ {k=$2} /^Application protocol/ {a=$2}
                END {print v ", " c ", " k ", " a}')
done

# 10,000 idle keep-alive connections to Portico's plain listener, before any load (so the
# figure is what the connections add, not what the load left behind). A first round of 200
# connections, closed again, warms what any traffic brings up once (the upstream pool,
# capture's store and buffers), so the difference is the connections' own cost.
python3 bench/idle_conns.py "$portico_http" bench.localhost /small 200 30 0 >/dev/null
sleep 2
pre_conns_rss=$(rss "$portico_pid")
python3 bench/idle_conns.py "$portico_http" bench.localhost /small "$IDLE_CONNS" 60 120 >"$work/idle.out" &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 1 700); do # up to 70 s: the client's own 60 s deadline plus slack
  [ -s "$work/idle.out" ] && break
  sleep 0.1
done
read -r _ idle_open _ idle_failed _ idle_secs < "$work/idle.out" || { echo "the idle-connection client did not report" >&2; exit 1; }
sleep 2
conns_rss=$(rss "$portico_pid")
# The same connections once the allocator has run its delayed purge: mimalloc gives back
# pages freed by parked connections on later allocator activity, which an idle engine does
# not have; 200 status requests (the UI polls the status every second) are that activity.
for _ in $(seq 1 200); do api "$admin" status >/dev/null; done
sleep 1
settled_rss=$(rss "$portico_pid")
parked=$(api "$admin" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["load"]["parked"])')
portico_fds=$(find /proc/"$portico_pid"/fd -mindepth 1 | wc -l)
kill "$idle_pid"; wait "$idle_pid" 2>/dev/null || true
sleep 1
after_conns_rss=$(rss "$portico_pid")

# wrk: URL -> "rps p50_ms p99_ms errors" (errors: socket errors plus non-2xx/3xx answers).
wrk_run() { # seconds url
  wrk -t2 -c50 -d"$1s" --latency -H 'Host: bench.localhost' "$2" 2>/dev/null |
    awk 'function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
         /Requests\/sec/ {rps=$2}
         /^ +50%/ {p50=ms($2)} /^ +99%/ {p99=ms($2)}
         /Socket errors/ {gsub(/,/,""); err+=$4+$6+$8+$10}
         /Non-2xx/ {err+=$NF}
         END {print rps+0, p50+0, p99+0, err+0}'
}
# h2load over HTTP/2: "rps p50_ms p99_ms errors", percentiles from its per-request log.
h2_run() { # seconds port path
  local log="$work/h2load.log"
  rm -f "$log"
  h2load -t2 -c50 -m10 -D "$1" --connect-to 127.0.0.1:"$2" --log-file "$log" \
    "https://bench.localhost:$2/$3" 2>/dev/null |
    awk '/^finished in/ {gsub(/,/,""); rps=$4} /^requests:/ {gsub(/,/,""); err=$10}
         END {print rps+0, err+0}' > "$work/h2load.sum"
  read -r rps err < "$work/h2load.sum"
  read -r p50 p99 < <(awk -F'\t' '{print $3/1000}' "$log" | sort -g |
    awk 'function at(q,  i) {i = int(NR*q + 0.5); return a[i < 1 ? 1 : i]}
         {a[NR]=$1} END {if (NR == 0) print 0, 0; else print at(0.50), at(0.99)}')
  echo "$rps $p50 $p99 $err"
}
# New TLS connections: batches of NEW_CONNS clients, one request each (so each is a new
# connection with a full handshake; h2load keeps no sessions between clients), until the
# run's seconds are spent. "conns/s connect_mean_ms connect_max_ms errors", the rate being
# connections over h2load's own elapsed time (process start-up left out).
tls_run() { # seconds port
  local end=$((SECONDS + $1)) ok_total=0 secs_total=0 err_total=0 means=() max=0 ok secs err mean bmax
  while [ "$SECONDS" -lt "$end" ]; do
    read -r ok secs err mean bmax < <(
      h2load -t2 -c "$NEW_CONNS" -n "$NEW_CONNS" --connect-to 127.0.0.1:"$2" \
        "https://bench.localhost:$2/small" 2>/dev/null |
        awk 'function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
             /^finished in/ {gsub(/,/,""); secs=$3; sub(/s$/,"",secs); if ($3 ~ /ms$/) {sub(/m$/,"",secs); secs/=1000}}
             /^requests:/ {gsub(/,/,""); ok=$8; err=$10}
             /^time for connect:/ {mn=ms($6); mx=ms($5)}
             END {print ok+0, secs+0, err+0, mn+0, mx+0}')
    ok_total=$((ok_total + ok)); err_total=$((err_total + err))
    secs_total=$(echo "$secs_total + $secs" | bc -l)
    means+=("$mean")
    max=$(echo "if ($bmax > $max) $bmax else $max" | bc -l)
  done
  [ "$ok_total" -gt 0 ] || { echo "0 0 0 $err_total"; return; }
  echo "$(echo "$ok_total / $secs_total" | bc -l) $(printf '%s\n' "${means[@]}" | median) $max $err_total"
}

# cell proxy -> the command measuring it for $1 seconds
measure() { # seconds cell proxy
  case $2 in
    h1-1k) wrk_run "$1" "http://127.0.0.1:${http_port[$3]}/small" ;;
    h1-100k) wrk_run "$1" "http://127.0.0.1:${http_port[$3]}/large" ;;
    tls-h1-1k) wrk_run "$1" "https://127.0.0.1:${https_port[$3]}/small" ;;
    tls-h1-100k) wrk_run "$1" "https://127.0.0.1:${https_port[$3]}/large" ;;
    h2-1k) h2_run "$1" "${https_port[$3]}" small ;;
    h2-100k) h2_run "$1" "${https_port[$3]}" large ;;
    new-tls) tls_run "$1" "${https_port[$3]}" ;;
  esac
}

cells=(h1-1k h1-100k tls-h1-1k tls-h1-100k h2-1k h2-100k new-tls)
declare -A label proxies
label=([h1-1k]="HTTP/1.1 1 KiB" [h1-100k]="HTTP/1.1 100 KiB" [tls-h1-1k]="HTTPS h1 1 KiB"
  [tls-h1-100k]="HTTPS h1 100 KiB" [h2-1k]="HTTPS h2 1 KiB" [h2-100k]="HTTPS h2 100 KiB"
  [new-tls]="new TLS conns")
for c in "${cells[@]}"; do proxies[$c]="nginx caddy portico"; done
proxies[h1-1k]="direct nginx caddy portico"
proxies[h1-100k]="direct nginx caddy portico"

declare -A rps p50 p99 errs
started=$SECONDS
for c in "${cells[@]}"; do
  declare -A r=() a=() b=() e=()
  for p in ${proxies[$c]}; do measure 1 "$c" "$p" >/dev/null; done # warm-up
  for _ in $(seq 1 "$ROUNDS"); do
    for p in ${proxies[$c]}; do # interleaved, so drift on a shared machine hits all alike
      read -r x y z w < <(measure "$SECONDS_PER_RUN" "$c" "$p")
      r[$p]+="$x "; a[$p]+="$y "; b[$p]+="$z "; e[$p]=$(( ${e[$p]:-0} + ${w%.*} ))
    done
  done
  for p in ${proxies[$c]}; do
    # shellcheck disable=SC2086 # one value per word
    rps[$c,$p]=$(printf '%s\n' ${r[$p]} | median)
    # shellcheck disable=SC2086
    p50[$c,$p]=$(printf '%s\n' ${a[$p]} | median)
    # shellcheck disable=SC2086
    p99[$c,$p]=$(printf '%s\n' ${b[$p]} | median)
    errs[$c,$p]=${e[$p]}
  done
  unset r a b e
done
matrix_secs=$((SECONDS - started))
captured_newest=$(api "$admin" 'requests?limit=1' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["items"][0]["id"] if d["items"] else 0)')
dropped=$(api "$admin" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["capture"]["dropped"])')
after_matrix_rss=$(rss "$portico_pid")

# A second, fresh Portico: EXCHANGES captured exchanges of a tiny response, then its RSS.
# Generated with wrk in 2 s bursts until the store holds them (capture drops what its queue
# cannot take, so the count is checked, not assumed), for 90 s at most.
store_http=$(free_port); store_admin=$(free_port)
store_data="$work/portico-store"
"$PORTICO" --data-dir "$store_data" route add bench.localhost "$backend" >/dev/null
"$PORTICO" --data-dir "$store_data" serve --http 127.0.0.1:"$store_http" --admin 127.0.0.1:"$store_admin" --no-https \
  >"$work/portico-store.log" 2>&1 &
pids+=($!)
store_pid=$!
wait_port "$store_http"; wait_port "$store_admin"
token=$(cat "$store_data/admin-token")
newest() { api "$store_admin" 'requests?limit=1' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["items"][0]["id"] if d["items"] else 0)'; }
stored() { # exact count, paging through the list
  python3 - "$store_admin" "$token" <<'PY'
import json, sys, urllib.request
port, token, n, before = sys.argv[1], sys.argv[2], 0, None
while True:
    url = f"http://127.0.0.1:{port}/api/v1/requests?limit=500" + (f"&before={before}" if before else "")
    page = json.load(urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})))
    n += len(page["items"])
    before = page.get("next_before")
    if not before:
        break
print(n)
PY
}
fill_end=$((SECONDS + 90))
while [ "$(newest)" -lt "$EXCHANGES" ] && [ "$SECONDS" -lt "$fill_end" ]; do
  wrk -t2 -c20 -d2s -H 'Host: bench.localhost' "http://127.0.0.1:$store_http/tiny" >/dev/null 2>&1
done
# Let the recorder finish its last batches (the newest id stops moving).
last=-1
while [ "$(newest)" != "$last" ]; do last=$(newest); sleep 1; done
sleep 1
store_rss=$(rss "$store_pid")
store_count=$(stored)
store_dropped=$(api "$store_admin" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["capture"]["dropped"])')

# The table.
ratio() { # a b -> a/b, or "-" when b is missing or zero
  if [ -n "${2:-}" ] && [ "$(echo "$2 > 0" | bc -l)" = 1 ]; then printf '%.2f' "$(echo "$1/$2" | bc -l)"; else printf -- -; fi
}
printf '\nPortico vs nginx vs Caddy as reverse proxies (%s cores; %s rounds of %ss per cell, medians; matrix took %ss)\n' \
  "$(nproc)" "$ROUNDS" "$SECONDS_PER_RUN" "$matrix_secs"
printf '%-18s %-8s %11s %9s %9s %9s %9s %10s %7s\n' cell proxy "req/s" "p50 ms" "p99 ms" "vs nginx" "vs direct" "p99/nginx" errors
for c in "${cells[@]}"; do
  size=${c##*-}
  for p in ${proxies[$c]}; do
    direct=""
    [ "$c" = new-tls ] || direct=${rps[h1-$size,direct]}
    printf '%-18s %-8s %11.0f %9.2f %9.2f %9s %9s %10s %7s\n' "${label[$c]}" "$p" "${rps[$c,$p]}" \
      "${p50[$c,$p]}" "${p99[$c,$p]}" "$(ratio "${rps[$c,$p]}" "${rps[$c,nginx]}")" \
      "$(ratio "${rps[$c,$p]}" "$direct")" "$(ratio "${p99[$c,$p]}" "${p99[$c,nginx]}")" "${errs[$c,$p]}"
  done
done
printf '%s\n' "vs direct: against the backend straight over plain HTTP/1.1 for the same size." \
  "new TLS conns: req/s is new connections a second (one request each); p50 is the median batch's" \
  "mean connect time including the handshake, p99 the longest connect seen (h2load gives no percentiles)."

printf '\nTLS as negotiated by h2load\n'
for p in nginx caddy portico; do printf '%-8s %s\n' "$p" "${tls_params[$p]}"; done

read -r idle_kib _ <<< "$idle_rss"; read -r pre_kib _ <<< "$pre_conns_rss"; read -r conns_kib _ <<< "$conns_rss"
printf '\nPortico memory (VmRSS from /proc/PID/status)\n'
printf '%-62s %s\n' "idle, 2 s after start (goal <= 30 MiB)" "$(show_rss "$idle_rss")"
printf '%-62s %s\n' "after 200 connections opened, used once and closed" "$(show_rss "$pre_conns_rss")"
printf '%-62s %s\n' "with $idle_open idle keep-alive connections open" "$(show_rss "$conns_rss")"
printf '%-62s %s MiB (%s MiB over idle at start)\n' "  added by them (goal <= 100 MiB for 10,000)" \
  "$(mib $((conns_kib - pre_kib)))" "$(mib $((conns_kib - idle_kib)))"
read -r settled_kib _ <<< "$settled_rss"
printf '%-62s %s MiB (%s parked)\n' "  added, once 200 status requests let the allocator purge" \
  "$(mib $((settled_kib - pre_kib)))" "$parked"
printf '%-62s %s\n' "  after they closed" "$(show_rss "$after_conns_rss")"
printf '  (opened in %ss, %s failed; the proxy held %s descriptors)\n' "$idle_secs" "$idle_failed" "$portico_fds"
printf '%-62s %s\n' "after the matrix ($captured_newest captured, $dropped dropped)" "$(show_rss "$after_matrix_rss")"
printf '%-62s %s\n' "fresh instance, $store_count exchanges stored ($store_dropped dropped)" "$(show_rss "$store_rss")"
