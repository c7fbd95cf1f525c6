#!/usr/bin/env bash
# Fuzz the admin API from its own OpenAPI document: check that docs/openapi.json is a valid
# OpenAPI 3.1 document, start a real `portico serve` in a temporary data dir, and let
# schemathesis send a bounded number of generated requests per operation (valid and invalid
# ones), failing on any 5xx and on any answer the document does not describe (status, content
# type, headers, body schema).
#
#   scripts/api-fuzz.sh PATH/TO/portico
#
# Tunables: FUZZ_EXAMPLES (examples per operation, default 20), FUZZ_TIME_LIMIT (seconds for
# the whole run, default 300), FUZZ_SEED (replay a run; each run prints its seed).
# Tools come from the venv scripts/install-deps.sh makes ($PORTICO_VENV).
set -euo pipefail

portico="${1:?usage: scripts/api-fuzz.sh PATH/TO/portico}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PORTICO_VENV:-$HOME/.cache/portico/venv}"
examples="${FUZZ_EXAMPLES:-20}"
time_limit="${FUZZ_TIME_LIMIT:-300}"

if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  echo "schemathesis is not installed in $venv; run scripts/install-deps.sh" >&2
  exit 1
fi

"$venv/bin/openapi-spec-validator" "$root/docs/openapi.json" >/dev/null
echo "docs/openapi.json is a valid OpenAPI document"

work="$(mktemp -d)"
serve_pid=""
fuzz_pid=""
# shellcheck disable=SC2317 # run by the EXIT trap below
cleanup() {
  for pid in $fuzz_pid $serve_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Port 0 everywhere: the engine writes the admin address it got to admin.json, so no port is
# guessed and none can be taken by someone else in between.
# Generated routes go into a hosts file of its own, never the machine's /etc/hosts.
"$portico" serve --data-dir "$work/data" --hosts-file "$work/hosts" --http 127.0.0.1:0 --https 127.0.0.1:0 \
  --admin 127.0.0.1:0 >"$work/serve.log" 2>&1 &
serve_pid=$!

deadline=$((SECONDS + 30))
until [ -s "$work/data/admin.json" ] && [ -s "$work/data/admin-token" ]; do
  if ! kill -0 "$serve_pid" 2>/dev/null; then
    echo "portico serve exited before the admin API was up:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the admin API did not come up within 30 s:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
url="$("$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' \
  "$work/data/admin.json")"
token="$(tr -d '[:space:]' <"$work/data/admin-token")"

# Left out:
# - POST /ca/trust, /ca/untrust and /ca/rotate change the machine's real trust stores (the
#   system store, ~/.pki/nssdb, Firefox profiles): `portico serve` is given the real ones.
#   Their handlers are covered by tests against temporary stores.
# - Server-Sent Events streams (GET /events, and any operation answering
#   text/event-stream): they never end, so there is no whole response to check.
excluded=(/api/v1/ca/trust /api/v1/ca/untrust /api/v1/ca/rotate)
mapfile -t streams < <("$venv/bin/python" - "$root/docs/openapi.json" <<'PY'
import json, sys

doc = json.load(open(sys.argv[1]))
for path, item in doc["paths"].items():
    for operation in item.values():
        responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
        if any("text/event-stream" in r.get("content", {}) for r in responses.values()):
            print(path)
            break
PY
)
excluded+=("${streams[@]}")

# Nothing is sent through the proxy, so no traffic is captured and
# /requests/{id}/replay always answers 404: the routes the fuzzer writes may name any upstream,
# and a replay would send a request there. Keep it that way (the network here is loopback only).
#
# Checks: every one schemathesis has except
# - positive_data_acceptance, which assumes the schema encodes all validation: it cannot say
#   which strings are DNS names or socket addresses, nor that serde refuses 1.0 where JSON
#   Schema counts it as an integer. Such bodies get the documented 422 problem.
# - object_level_authorization: there is one user.
checks="not_a_server_error,status_code_conformance,content_type_conformance"
checks+=",response_headers_conformance,response_schema_conformance,negative_data_rejection"
checks+=",missing_required_header,unsupported_method,allow_header_conformance"
checks+=",use_after_free,ensure_resource_availability,ignored_auth"

args=(
  run "$url/api/v1/openapi.json"
  --header "Authorization: Bearer $token"
  --checks "$checks"
  --max-examples "$examples"
  --request-timeout 10
  --generation-database none
  --report junit --report-junit-path "$work/junit.xml"
)
for path in "${excluded[@]}"; do
  args+=(--exclude-path "$path")
done
[ -n "${FUZZ_SEED:-}" ] && args+=(--seed "$FUZZ_SEED")
[ -t 1 ] || args+=(--no-color)

# In the temporary dir, so nothing (a .hypothesis folder, reports) lands in the checkout.
(cd "$work" && exec timeout --kill-after=10 "$time_limit" "$venv/bin/schemathesis" "${args[@]}") &
fuzz_pid=$!
status=0
wait "$fuzz_pid" || status=$?
fuzz_pid=""
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "schemathesis did not finish within ${time_limit} s" >&2
fi
if ! kill -0 "$serve_pid" 2>/dev/null; then
  echo "portico serve died during the run:" >&2
  cat "$work/serve.log" >&2
  status=1
fi
# One closing line in the plain "N passed, N failed" form, counting operations (and the
# stateful scenarios), so a log reader need not parse schemathesis's own summary.
if [ -s "$work/junit.xml" ]; then
  "$venv/bin/python" - "$work/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

suites = ET.parse(sys.argv[1]).getroot()
total, failed, skipped = (
    sum(int(s.get(key, 0)) for s in suites.iter("testsuite"))
    for key in ("tests", "failures", "skipped")
)
failed += sum(int(s.get("errors", 0)) for s in suites.iter("testsuite"))
print(f"api-fuzz: {total - failed - skipped} passed, {failed} failed, {skipped} skipped")
PY
fi
exit "$status"
