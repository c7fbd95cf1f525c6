#!/usr/bin/env bash
# Install the desktop app's .deb (from `make bundle`) on a clean Debian and start it: a fresh
# `debootstrap --variant=minbase` chroot (its base cached beside the build cache), where apt
# installs the .deb and resolves its dependencies from the Debian archive, then the app runs
# under a virtual display and a session bus until its engine answers on the admin API. Needs root (chroot, mounts) and the Debian archive; not part of
# `make test` (it takes minutes). `make check-deb` runs it after `make bundle`.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "check-deb: needs root (it builds a chroot)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}
# The newest bundle (its file name holds no odd characters: portico_VERSION_ARCH.deb).
# shellcheck disable=SC2012
deb=$(ls -t "$TARGET"/release/bundle/deb/*.deb 2>/dev/null | head -1 || true)
[ -n "$deb" ] || { echo "check-deb: no .deb under $TARGET/release/bundle/deb: run 'make bundle'" >&2; exit 1; }
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
cache=$HOME/.cache/portico/chroot
base=$cache/$SUITE-minbase.tar

command -v debootstrap >/dev/null || {
  echo "installing debootstrap"
  apt-get install -y -qq debootstrap >/dev/null
}
if [ ! -f "$base" ]; then
  echo "building a clean $SUITE base with debootstrap (once; cached in $base)"
  mkdir -p "$cache"
  rm -rf "$cache/build"
  debootstrap --variant=minbase "$SUITE" "$cache/build" "$MIRROR" >/dev/null
  tar -C "$cache/build" -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  rm -rf "$cache/build"
fi

root=$(mktemp -d)
mounted=()
cleanup() {
  # The app and anything it started inside the chroot.
  for proc in /proc/[0-9]*; do
    if [ "$(readlink "$proc/root" 2>/dev/null)" = "$root" ]; then
      kill -9 "${proc#/proc/}" 2>/dev/null || true
    fi
  done
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
for fs in proc sys dev dev/pts; do
  mount --bind "/$fs" "$root/$fs"
  mounted+=("$root/$fs")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/portico.deb"
in_root() { chroot "$root" env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

echo "installing $(basename "$deb") with apt in the clean $SUITE chroot"
in_root apt-get update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/portico.deb xvfb xauth dbus curl python3 >/dev/null
in_root dpkg -s portico | grep -E '^(Status|Version|Depends):'
in_root test -x /usr/bin/portico-desktop

echo "starting portico-desktop under xvfb-run and dbus-run-session"
in_root sh -c 'mkdir -p /tmp/data && PORTICO_DATA_DIR=/tmp/data nohup timeout 120 xvfb-run -a -s "-screen 0 1280x900x24" dbus-run-session -- portico-desktop >/tmp/app.log 2>&1 &'
login=""
for _ in $(seq 300); do
  login=$(grep -oE '^UI: http://[^ ]+' "$root/tmp/app.log" 2>/dev/null | head -1 | cut -c5- || true)
  [ -n "$login" ] && break
  sleep 0.2
done
[ -n "$login" ] || { echo "check-deb FAILED: no UI: line within 60 s" >&2; cat "$root/tmp/app.log" >&2; exit 1; }
admin=$(echo "$login" | sed -E 's#^(http://[^/]+)/.*#\1#')
token=$(cat "$root/tmp/data/admin-token")
status=$(in_root curl -sf --max-time 10 -H "Authorization: Bearer $token" "$admin/api/v1/status") ||
  { echo "check-deb FAILED: the admin API did not answer" >&2; cat "$root/tmp/app.log" >&2; exit 1; }
version=$(echo "$status" | in_root python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
echo "check-deb passed: $(basename "$deb") installed with apt on a clean $SUITE and started; engine $version answers at $admin"
