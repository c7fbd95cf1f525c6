#!/usr/bin/env bash
# Keep the shared build cache from filling the disk: every change to a crate leaves its old
# test and program binaries (hundreds of MB each) in target/debug/deps under a new hash.
# Keep the newest binary of each name, delete the older ones; libraries and the incremental
# caches stay (cargo reuses them). Quiet unless it frees something worth saying.
set -euo pipefail
deps="${CARGO_TARGET_DIR:-$HOME/.cache/portico/target}/debug/deps"
[ -d "$deps" ] || exit 0
python3 - "$deps" <<'PY'
import os, re, sys, collections
deps = sys.argv[1]
groups = collections.defaultdict(list)
for name in os.listdir(deps):
    match = re.fullmatch(r"(.+)-([0-9a-f]{16})", name)  # executables have no extension
    path = os.path.join(deps, name)
    if match and os.path.isfile(path) and os.access(path, os.X_OK):
        stat = os.stat(path)
        groups[match.group(1)].append((stat.st_mtime, path, stat.st_size))
freed = 0
for versions in groups.values():
    versions.sort(reverse=True)
    for _, path, size in versions[1:]:
        for stale in (path, path + ".d"):
            try:
                os.remove(stale)
            except FileNotFoundError:
                pass
        freed += size
if freed > 1 << 30:
    print(f"build cache: removed {freed / (1 << 30):.1f} GiB of superseded test binaries")
PY
