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
command -v cc >/dev/null && command -v make >/dev/null || apt_install build-essential
command -v pkg-config >/dev/null || apt_install pkg-config

# The tests drive real clients: curl and openssl (TLS), NSS certutil (trust stores),
# Debian's Chromium (the browser test) and Java's keytool (the Java trust report).
apt_install curl openssl ca-certificates libnss3-tools chromium
command -v keytool >/dev/null || apt_install default-jre-headless

# Rust, through rustup (Debian's own rustc is too old for edition 2024).
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

# The benchmarks compare against nginx and use bc for arithmetic.
if [ "${1:-}" = "--bench" ]; then
  apt_install nginx-light bc python3
  exit 0
fi

# cargo-nextest runs the tests.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (from crates.io; takes a few minutes once)"
  cargo install cargo-nextest --locked --quiet
fi
