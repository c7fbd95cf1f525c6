#!/usr/bin/env bash
# Install what building and testing Portico needs on Debian or Ubuntu. Idempotent and quiet
# when everything is already there; prints one line per thing it installs.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A C compiler for SQLite (bundled into rusqlite), and the usual build tools.
if ! command -v cc >/dev/null || ! command -v make >/dev/null; then apt_install build-essential; fi
command -v pkg-config >/dev/null || apt_install pkg-config
# `make lint` checks the shell scripts.
command -v shellcheck >/dev/null || apt_install shellcheck

# The tests drive real clients: curl and openssl (TLS), NSS certutil (trust stores),
# Debian's Chromium (the browser test) and Java's keytool (the Java trust report).
apt_install curl openssl ca-certificates libnss3-tools chromium
# dig (dnsutils) asks Portico's DNS responder directly; its tests also resolve through the
# system resolver with getent (libc-bin, always there) in a private network namespace
# (unshare, util-linux, always there).
command -v dig >/dev/null || apt_install dnsutils
command -v keytool >/dev/null || apt_install default-jre-headless

# The desktop app (Tauri: WebKitGTK, the tray's appindicator, SVG icons) and what its test
# runs it under and with: a virtual display, a session bus, WebKitGTK's WebDriver (which
# tauri-driver, below, drives), python3-xlib (closing the window as a window manager does,
# for Debian's python3) and ImageMagick's `import` for screenshots.
apt_install libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev \
  file xvfb xauth dbus imagemagick webkit2gtk-driver python3 python3-xlib

# `portico export --format` is tested against the real proxies: caddy adapt/validate and
# nginx -t check the exported files, then each proxies a request on loopback. Debian starts
# packaged servers as services; the tests run their own copies.
for pair in caddy:caddy nginx:nginx-light; do
  tool="${pair%%:*}"
  command -v "$tool" >/dev/null && continue
  apt_install "${pair#*:}"
  if command -v systemctl >/dev/null && systemctl is-enabled "$tool" >/dev/null 2>&1; then
    as_root systemctl disable --now "$tool" >/dev/null 2>&1 || true
  fi
done

# Rust, through rustup (Debian's own rustc is too old for edition 2024).
# shellcheck source=/dev/null # written by rustup
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if ! command -v cargo >/dev/null; then
  apt_install rustup ca-certificates
  echo "installing the stable Rust toolchain with rustup"
  rustup default stable >/dev/null
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v rustup >/dev/null; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || {
      echo "installing rustup component $component"
      rustup component add "$component" >/dev/null 2>&1
    }
  done
fi

# The benchmarks compare against nginx and Caddy and use bc for arithmetic; wrk loads
# HTTP/1.1 and h2load (nghttp2-client) HTTP/2 over TLS.
if [ "${1:-}" = "--bench" ]; then
  apt_install nginx-light caddy bc python3 wrk nghttp2-client
  # Debian starts packaged servers as services; the benchmarks run their own copies, and a
  # system Caddy on port 80 would take the port Portico wants.
  if command -v systemctl >/dev/null && systemctl is-enabled caddy >/dev/null 2>&1; then
    as_root systemctl disable --now caddy >/dev/null 2>&1 || true
  fi
  exit 0
fi

# cargo-nextest runs the tests.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (from crates.io; takes a few minutes once)"
  cargo install cargo-nextest --locked --quiet
fi

# tauri-driver, the WebDriver server the desktop test talks to (it runs WebKitWebDriver and
# the app), into a folder beside the build cache; the test finds it there.
tools="$HOME/.cache/portico/tools"
if [ ! -x "$tools/bin/tauri-driver" ]; then
  echo "installing tauri-driver (from crates.io) into $tools"
  cargo install tauri-driver --locked --quiet --root "$tools"
fi

# Node.js and npm build the web UI (ui/, an npm workspace: Vite, React, ESLint, Vitest), run
# the browser test (Playwright, driving Debian's chromium above, never a downloaded browser)
# and generate the UI's TypeScript types from the OpenAPI document (openapi-typescript); all
# pinned in package-lock.json. Vite needs Node.js 20.19 or newer.
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
# Debian 12's nodejs is 18. A newer Node comes from the npm registry itself (the `node`
# package ships the official binary) into a folder beside the build cache, which the Makefile
# puts first on PATH.
node_home="${PORTICO_NODE_HOME:-$HOME/.cache/portico/node}"
new_enough() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
if ! new_enough node && ! new_enough "$node_home/node_modules/.bin/node"; then
  echo "installing Node.js 22 from the npm registry into $node_home (the system's $(node --version) is too old for Vite)"
  npm install --prefix "$node_home" --no-save --no-audit --no-fund --silent node@22 >/dev/null
  new_enough "$node_home/node_modules/.bin/node" || {
    echo "could not install a Node.js new enough for the web UI (20.19 or newer)" >&2
    exit 1
  }
fi
if ! new_enough node; then
  export PATH="$node_home/node_modules/.bin:$PATH"
fi
if [ ! -d "$root/node_modules" ] ||
  [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "installing the Node packages in package-lock.json (npm ci)"
  (cd "$root" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null)
fi

# The API fuzzer (schemathesis) and an OpenAPI validator, pinned, in a venv beside the build
# cache; recreated when the pins change.
venv="${PORTICO_VENV:-$HOME/.cache/portico/venv}"
fuzz_tools="schemathesis==4.32.5 openapi-spec-validator==0.9.0"
if [ "$(cat "$venv/.portico-tools" 2>/dev/null)" != "$fuzz_tools" ]; then
  command -v python3 >/dev/null || apt_install python3
  # Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  echo "installing $fuzz_tools into $venv"
  python3 -m venv --clear "$venv"
  # shellcheck disable=SC2086 # one argument per pinned package
  "$venv/bin/pip" install --quiet --disable-pip-version-check $fuzz_tools
  echo "$fuzz_tools" >"$venv/.portico-tools"
fi
