#!/usr/bin/env bash
# Generates the fuzz seed corpora from a real export, at run time (no binary
# seeds are committed). Usage: fuzz/make-seeds.sh VMIGRATE_BINARY OUT_DIR
# Writes OUT_DIR/{manifest,archive,import}/ :
#   manifest/  manifest.yaml of a real export of example.com
#   archive/   that export uncompressed, gzip and zstd, and small tars
#              holding only its checksums.txt / only its manifest.yaml
#   import/    the same archives as archive/
#   state/     `vmigrate state` of example.com and of the whole host
# The export comes from tests/fixtures/real-small.tar.gz (a real
# vpopmail+qmail tree), unpacked under a temp --root.
set -euo pipefail
vmigrate=$(realpath "$1")
out=$2
here=$(cd "$(dirname "$0")/.." && pwd)
fixture=${VMIGRATE_FIXTURE:-$here/tests/fixtures/real-small.tar.gz}
[ -f "$fixture" ] || { echo "make-seeds: fixture $fixture not found" >&2; exit 1; }

work=$(mktemp -d /tmp/vmigrate-seeds-XXXXXX)
trap 'rm -rf "$work"' EXIT
R=$work/root
mkdir -p "$R/tmp/realvp"
tar xzf "$fixture" -C "$R/tmp/realvp"

export_as() {  # compression output
  "$vmigrate" export example.com -o "$2" --compress "$1" --force --root "$R" \
    --vpopmail-home /tmp/realvp/home/vpopmail --qmail-dir /tmp/realvp/qmail >/dev/null
}
export_as none "$work/seed.vmig"
export_as gzip "$work/seed.vmig.gz"
export_as zstd "$work/seed.vmig.zst"

mkdir -p "$work/members"
tar -xOf "$work/seed.vmig" manifest.yaml >"$work/members/manifest.yaml"
tar -xOf "$work/seed.vmig" checksums.txt >"$work/members/checksums.txt"
tar -cf "$work/manifest-only.tar" -C "$work/members" manifest.yaml
tar -cf "$work/manifest-checksums.tar" -C "$work/members" manifest.yaml checksums.txt

rm -rf "$out/manifest" "$out/archive" "$out/import" "$out/state"
mkdir -p "$out/manifest" "$out/archive" "$out/import" "$out/state"
for what in example.com --all; do
  "$vmigrate" state $what -o "$out/state/real-${what#--}.state" --force --root "$R" \
    --vpopmail-home /tmp/realvp/home/vpopmail --qmail-dir /tmp/realvp/qmail >/dev/null 2>&1
done
cp "$work/members/manifest.yaml" "$out/manifest/real-example.com.yaml"
for d in archive import; do
  cp "$work/seed.vmig" "$out/$d/real-example.com.tar"
  cp "$work/seed.vmig.gz" "$out/$d/real-example.com.tar.gz"
  cp "$work/seed.vmig.zst" "$out/$d/real-example.com.tar.zst"
  cp "$work/manifest-only.tar" "$out/$d/manifest-only.tar"
  cp "$work/manifest-checksums.tar" "$out/$d/manifest-checksums.tar"
done
echo "make-seeds: $(ls "$out/manifest" | wc -l) manifest, $(ls "$out/archive" | wc -l) archive seeds in $out" \
     "(export: $(stat -c %s "$work/seed.vmig") bytes uncompressed)"
