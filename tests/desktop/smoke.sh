#!/usr/bin/env bash
# The desktop app end to end under a virtual display (Xvfb) with its own session bus (the
# tray needs one): on a fresh data dir it starts the engine and opens its window on the web
# UI; a route added through the admin API is served by the proxy and captured; a second
# launch hands over to the first (single instance) and exits while the first keeps serving.
# The window's screenshot lands in tests/desktop/screenshots/desktop.png. Loopback only;
# every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${PORTICO_SMOKE_INSIDE:-}" ]; then
  export PORTICO_SMOKE_INSIDE=1
  exec timeout 180 xvfb-run -a -s "-screen 0 1400x950x24" dbus-run-session -- "$0" "$@"
fi

TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
APP=$TARGET/debug/portico-desktop
CLI=$TARGET/debug/portico
SHOTS=tests/desktop/screenshots
for bin in "$APP" "$CLI"; do
  [ -x "$bin" ] || { echo "$bin is missing: run 'cargo build -p portico -p portico-desktop'" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "desktop smoke test FAILED: $*" >&2
  echo "--- app output:" >&2
  cat "$work/app.log" >&2 || true
  exit 1
}

# Every listener on a free loopback port, through the settings the app reads at start.
data=$work/data
for key in http_listen https_listen admin_listen; do
  "$CLI" --data-dir "$data" settings set "$key" 127.0.0.1:0 >/dev/null
done

# An upstream: Python's static server on a free port.
mkdir -p "$work/site"
echo "hello from the desktop upstream" > "$work/site/index.html"
python3 -m http.server 0 --bind 127.0.0.1 --directory "$work/site" > "$work/upstream.log" 2>&1 &
pids+=($!)
upstream=""
for _ in $(seq 50); do
  upstream=$(grep -oE 'port [0-9]+' "$work/upstream.log" | head -1 | cut -d' ' -f2 || true)
  [ -n "$upstream" ] && break
  sleep 0.1
done
[ -n "$upstream" ] || fail "the upstream did not start"

PORTICO_DATA_DIR=$data PORTICO_LOG=warn "$APP" > "$work/app.log" 2>&1 &
app=$!
pids+=("$app")
login=""
for _ in $(seq 600); do
  login=$(grep -oE '^UI: http://[^ ]+' "$work/app.log" | head -1 | cut -c5- || true)
  [ -n "$login" ] && break
  kill -0 "$app" 2>/dev/null || fail "the app exited before printing its UI: line"
  sleep 0.1
done
[ -n "$login" ] || fail "no UI: line within 60 s"
admin=$(echo "$login" | sed -E 's#^(http://[^/]+)/.*#\1#')
token=$(cat "$data/admin-token")
api() { curl -sf --max-time 10 -H "Authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
http=$(api "$admin/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["listeners"]["http"][0])')

api -X POST -d "{\"host\": \"desk.localhost\", \"upstreams\": [\"$upstream\"], \"https_redirect\": false}" "$admin/api/v1/routes" >/dev/null ||
  fail "adding a route through the admin API"
body=$(curl -sf --max-time 10 -H 'Host: desk.localhost' "http://$http/") || fail "the proxy did not answer"
[ "$body" = "hello from the desktop upstream" ] || fail "the proxy answered '$body'"

# The exchange is captured (recorded in batches: bounded wait).
seen=0
for _ in $(seq 50); do
  seen=$(api "$admin/api/v1/requests?host=desk.localhost" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
  [ "$seen" -ge 1 ] && break
  sleep 0.1
done
[ "$seen" -ge 1 ] || fail "the request was not captured"

# The window: give WebKit a moment to log in and draw, then keep a screenshot; a drawn page
# has many colours, an empty or black screen a handful.
mkdir -p "$SHOTS"
sleep 4
import -window root "$SHOTS/desktop.png"
colours=$(identify -format '%k' "$SHOTS/desktop.png")
[ "$colours" -gt 50 ] || fail "the screen looks empty ($colours colours)"

# A second launch hands over to the running app and exits; the first keeps serving.
set +e
PORTICO_DATA_DIR=$data timeout 20 "$APP" > "$work/second.log" 2>&1
second=$?
set -e
[ "$second" -eq 0 ] || fail "the second launch did not exit cleanly ($second): $(cat "$work/second.log")"
grep -q '^UI: ' "$work/second.log" && fail "the second launch started its own engine"
kill -0 "$app" 2>/dev/null || fail "the first app exited after the second launch"
body=$(curl -sf --max-time 10 -H 'Host: desk.localhost' "http://$http/") || fail "the proxy stopped answering"
[ "$body" = "hello from the desktop upstream" ] || fail "the proxy answered '$body' after the second launch"

echo "desktop smoke test passed: engine started, route served and captured, window drawn ($colours colours, $SHOTS/desktop.png), second launch handed over"
