#!/usr/bin/env bash
# Vendors the web UI's third-party assets from their npm packages into
# src/http/ui/assets/vendor/ (committed; the build needs no npm and the UI no CDN).
#
# Every package version and every file's SHA-256 is pinned below: a changed upstream
# file stops the script before anything is written. To upgrade, change the version,
# run with UPDATE_PINS=1 to print the new checksums, review, and paste them here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/http/ui/assets/vendor"

# package@version  path-in-package  file-name-in-vendor  sha256
PINS=(
  "bootstrap@5.3.8 package/dist/css/bootstrap.min.css bootstrap.min.css d85327d99c7a3ee1f9b5d0500d1370acea3ad2db39c163c2f51f232baedbdede"
  "bootstrap@5.3.8 package/dist/js/bootstrap.bundle.min.js bootstrap.bundle.min.js e4fd49181388c48ec5040bd3fe66f57c29c8e67fcd8502b3354b96ec7ab47cc7"
  "bootstrap@5.3.8 package/LICENSE LICENSE.bootstrap 4620c84ad5ce8602ff65640ed6b7c8b78ebb9e036584f0ebc1ccc88206a4bb51"
  "chart.js@4.5.1 package/dist/chart.umd.min.js chart.umd.min.js 48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a"
  "chart.js@4.5.1 package/LICENSE.md LICENSE.chart.js 41a84aa2caba645f966a18d9c2056b73e6d3a81d80bc0046bc0011a2634d4cce"
  "chartjs-adapter-date-fns@3.0.0 package/dist/chartjs-adapter-date-fns.bundle.min.js chartjs-adapter-date-fns.bundle.min.js ea7ab30d26c38dcf1f2d26bb43e73a94537b58f1906f55e1a546dd09321b5615"
  "chartjs-adapter-date-fns@3.0.0 package/LICENSE.md LICENSE.chartjs-adapter-date-fns b4b8355c2cd2b18354980a0c6422181d7bd6e895d94ae88b3570e97c60eea03d"
  # The adapter's bundle includes date-fns (built against 2.19); its licence:
  "date-fns@2.19.0 package/LICENSE.md LICENSE.date-fns d3d4c536c5e003933ffa274c6a0d3b4e03f851960ecd60727846d38b18e7d959"
  # The traceroute path map (markers and lines; tiles only from a configured ui.map_tile_url).
  "leaflet@1.9.4 package/dist/leaflet.js leaflet.js db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a"
  "leaflet@1.9.4 package/dist/leaflet.css leaflet.css a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6"
  "leaflet@1.9.4 package/LICENSE LICENSE.leaflet 53e8dc25862014e4324741ca18fbe3611e11d42ef69f59f86ea8c5389647d4cb"
)

command -v npm >/dev/null || { echo "vendor-assets: npm is required" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail=0
declare -A fetched=()
for pin in "${PINS[@]}"; do
  read -r pkg inner name sha <<<"$pin"
  dir="$WORK/${pkg//[@\/]/_}"
  if [[ -z "${fetched[$pkg]:-}" ]]; then
    mkdir -p "$dir"
    tgz="$(cd "$dir" && npm pack --silent "$pkg")"
    tar xzf "$dir/$tgz" -C "$dir"
    fetched[$pkg]=1
  fi
  got="$(sha256sum "$dir/$inner" | cut -d' ' -f1)"
  if [[ "$got" != "$sha" ]]; then
    echo "vendor-assets: $pkg $inner: sha256 $got, pinned $sha" >&2
    fail=1
  fi
  if [[ "${UPDATE_PINS:-}" == 1 ]]; then echo "$pkg $inner $name $got"; fi
done
if [[ "$fail" != 0 ]]; then
  echo "vendor-assets: checksum mismatch; nothing written" >&2
  exit 1
fi

mkdir -p "$DEST"
for pin in "${PINS[@]}"; do
  read -r pkg inner name sha <<<"$pin"
  dir="$WORK/${pkg//[@\/]/_}"
  install -m 0644 "$dir/$inner" "$DEST/$name"
done
echo "vendor-assets: wrote ${#PINS[@]} files to ${DEST#"$ROOT"/}"
