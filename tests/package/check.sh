#!/usr/bin/env bash
# Checks a built .deb for real: Debian's lintian (no error, no warning), the desktop entry
# with desktop-file-validate, the installed layout in a scratch root (dpkg-deb -x), and the
# installed app itself: started with --demo under Xvfb, it must find the worker installed
# beside it (not the build tree's) and connect both demo gateways, as its /readyz says; the
# installed gatewatch-cli must find its worker too and probe a simulator.
#   tests/package/check.sh PATH.deb
set -euo pipefail
deb=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d)
app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null || true
    # The desktop's document portal may still have its FUSE mount in the scratch home.
    fusermount -u "$scratch/home/.cache/doc" 2>/dev/null || true
    rm -rf "$scratch" 2>/dev/null || true
}
trap cleanup EXIT
fail() { echo "package check FAILED: $*" >&2; exit 1; }

echo "== lintian"
lintian --fail-on error,warning --tag-display-limit 0 "$deb" 2>&1 | grep -v "running with root privileges" || true
lintian --fail-on error,warning "$deb" > /dev/null 2>&1 || fail "lintian reports errors or warnings"

echo "== installed layout"
dpkg-deb -x "$deb" "$scratch/root"
for file in usr/bin/gatewatch usr/bin/gatewatch-worker usr/bin/gatewatch-cli \
    usr/share/applications/Gatewatch.desktop \
    usr/share/icons/hicolor/32x32/apps/gatewatch.png usr/share/icons/hicolor/128x128/apps/gatewatch.png \
    usr/share/icons/hicolor/512x512/apps/gatewatch.png \
    usr/share/man/man1/gatewatch.1.gz usr/share/man/man1/gatewatch-cli.1.gz \
    usr/share/doc/gatewatch/copyright; do
    [ -e "$scratch/root/$file" ] || fail "$file is not in the package"
done
desktop-file-validate "$scratch/root/usr/share/applications/Gatewatch.desktop" || fail "desktop entry"
"$scratch/root/usr/bin/gatewatch" --version | grep -q "^gatewatch " || fail "gatewatch --version"

# Nothing from the build tree: no GATEWATCH_WORKER, a home of its own.
unset GATEWATCH_WORKER
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/.config" XDG_DATA_HOME="$scratch/home/.local/share"
mkdir -p "$HOME"

echo "== installed gatewatch-cli probes a simulator with the installed worker"
"$root/target/debug/gatewatch-sim" --port 0 --control-port 0 > "$scratch/sim.out" 2>/dev/null &
sim_pid=$!
for _ in $(seq 50); do grep -q "api=" "$scratch/sim.out" && break; sleep 0.1; done
port=$(sed -n 's/.*api=[^ ]*:\([0-9]*\).*/\1/p' "$scratch/sim.out" | head -1)
[ -n "$port" ] || fail "the simulator did not start"
"$scratch/root/usr/bin/gatewatch-cli" probe --port "$port" --duration 2s > "$scratch/probe.out" 2>&1 \
    || { cat "$scratch/probe.out"; fail "the installed gatewatch-cli could not probe"; }

echo "== installed app under Xvfb, --demo, in the desktop's dark theme"
listen_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '{"endpoints":{"enabled":true,"listen":"127.0.0.1:%s"}}\n' "$listen_port" > "$scratch/settings.json"
# Inside the virtual display: the app with GTK's dark theme (the window follows it through
# prefers-color-scheme), and a photograph of the screen once both gateways are connected,
# for docs/screenshots (`make screenshots`).
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- bash -c '
    GTK_THEME=Adwaita:dark "$0" --demo --settings "$1" > "$2/app.log" 2>&1 &
    for _ in $(seq 120); do curl -fsS "http://127.0.0.1:$3/readyz" > /dev/null 2>&1 && break; sleep 0.5; done
    sleep 6
    import -window root -crop 1100x760+0+0 "$2/dark-theme.png" 2> /dev/null || true
    wait' "$scratch/root/usr/bin/gatewatch" "$scratch/settings.json" "$scratch" "$listen_port" &
app_pid=$!
ready=""
for _ in $(seq 120); do
    if curl -fsS "http://127.0.0.1:$listen_port/readyz" > /dev/null 2>&1; then ready=yes; break; fi
    sleep 0.5
done
[ -n "$ready" ] || { tail -20 "$scratch/app.log"; fail "the installed app never had both demo gateways connected"; }
workers=$(pgrep -f "^$scratch/root/usr/bin/gatewatch-worker" || true)
[ "$(echo "$workers" | grep -c .)" -ge 2 ] || fail "no worker runs from the installed /usr/bin: $(pgrep -af gatewatch-worker)"
for pid in $workers; do
    [ "$(readlink "/proc/$pid/exe")" = "$scratch/root/usr/bin/gatewatch-worker" ] || fail "worker $pid is not the installed one"
done
echo "the installed app connected both demo gateways through $(echo "$workers" | grep -c .) installed workers"
# The photograph is taken inside the display 6 s after ready (the window draws after the
# gateways connect); wait for it.
for _ in $(seq 75); do [ -s "$scratch/dark-theme.png" ] && break; sleep 0.2; done
app=$(pgrep -f "^$scratch/root/usr/bin/gatewatch --demo" | head -1)
kill -TERM "$app"
for _ in $(seq 50); do kill -0 "$app" 2>/dev/null || break; sleep 0.2; done
kill -0 "$app" 2>/dev/null && fail "the installed app did not quit on SIGTERM"
for pid in $workers; do kill -0 "$pid" 2>/dev/null && fail "worker $pid outlived the app"; done
if [ -s "$scratch/dark-theme.png" ]; then
    mkdir -p "$root/target/e2e/states"
    cp "$scratch/dark-theme.png" "$root/target/e2e/states/dark-theme.png"
fi
echo "package check passed: $deb"
