#!/usr/bin/env bash
# Builds the .deb with Tauri's bundler (the @tauri-apps/cli of ui/node_modules, nothing
# global): the app, its worker and gatewatch-cli beside it in /usr/bin (Tauri's externalBin),
# the desktop entry, the hicolor icons, man pages (help2man from the real --help), and the
# copyright and changelog Debian asks for. Binaries are stripped, as Debian's dh_strip would.
#   scripts/package.sh release   what `make package` ships
#   scripts/package.sh debug     what `make test` checks, reusing the debug build
# Prints the path of the .deb. Needs `make ui` first (the app embeds ui/dist).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
case "$profile" in
    release) cargo_flags=(--release); tauri_flags=() ;;
    debug) cargo_flags=(); tauri_flags=(--debug) ;;
    *) echo "usage: $0 release|debug" >&2; exit 2 ;;
esac
tauri=ui/node_modules/.bin/tauri
out=target/package
bin=target/$profile
cargo build "${cargo_flags[@]}" -p gatewatch-worker -p gatewatch-cli >&2
triple=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p src-tauri/binaries "$out"
for name in gatewatch-worker gatewatch-cli; do
    cp "$bin/$name" "src-tauri/binaries/$name-$triple"
    strip --strip-unneeded "src-tauri/binaries/$name-$triple"
done
# The app, built as Tauri builds for a bundle (its assets served by its own protocol).
"$tauri" build "${tauri_flags[@]}" --no-bundle --ci --config src-tauri/tauri.package.json >&2
strip --strip-unneeded "$bin/gatewatch"

gzip -9nc packaging/changelog > "$out/changelog.gz"
help2man --no-info --name "watches the TWS API connection of IB Gateway and TWS" \
    "$bin/gatewatch" | gzip -9nc > "$out/gatewatch.1.gz"
help2man --no-info --name "headless Gatewatch: probe, watch and serve gateways" \
    "$bin/gatewatch-cli" | gzip -9nc > "$out/gatewatch-cli.1.gz"
gzip -9nc packaging/gatewatch-worker.1 > "$out/gatewatch-worker.1.gz"
# libc: the newest symbol version any of the three binaries needs.
glibc=$(objdump -T "$bin/gatewatch" src-tauri/binaries/*-"$triple" | grep -o 'GLIBC_[0-9.]*' \
    | sed 's/GLIBC_//' | sort -Vu | tail -1)
printf '{"bundle":{"linux":{"deb":{"depends":["libc6 (>= %s)","xdg-utils"]}}}}\n' "$glibc" > "$out/depends.json"

"$tauri" bundle "${tauri_flags[@]}" --bundles deb --ci \
    --config src-tauri/tauri.package.json --config "$out/depends.json" >&2
ls -t "$bin/bundle/deb/"*.deb | head -1
