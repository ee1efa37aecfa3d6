#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build, run and test Gatewatch:
# the Tauri/WebKitGTK build libraries, the virtual display and D-Bus tools the desktop tests
# use, and Python's venv. Installs only what is missing; run as root (or with sudo).
set -euo pipefail

packages=(
    build-essential pkg-config file make
    libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev
    xvfb xauth webkit2gtk-driver dbus-daemon imagemagick xdg-utils
    lintian desktop-file-utils help2man curl gcc-mingw-w64-x86-64
    python3 python3-venv
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

# Prometheus and promtool for the metrics tests, without the exporters Debian recommends. A
# machine with systemd starts the packaged service; it is stopped again: the tests start
# their own Prometheus on loopback, and nothing should listen on 0.0.0.0:9090 because of them.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
    echo "installing: prometheus (promtool)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends prometheus
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
        $sudo systemctl disable --now prometheus || true
    fi
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "Node.js 20 or later with npm is needed to build the UI (https://nodejs.org, or your distribution's nodejs package)." >&2
    exit 1
fi
