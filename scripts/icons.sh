#!/usr/bin/env bash
# Draws the icons (icons/generate.py) and makes the bundles' icons from icons/app-icon.png
# with Tauri's own `tauri icon`: the hicolor PNG sizes, icon.ico (Windows) and icon.icns
# (macOS). The results are checked in; run this after changing the drawing (`make icons`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 icons/generate.py
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd ui && npx tauri icon ../icons/app-icon.png -o "$out" > /dev/null 2>&1)
for file in 32x32.png 64x64.png 128x128.png icon.png icon.ico icon.icns; do
    cp "$out/$file" "icons/$file"
done
