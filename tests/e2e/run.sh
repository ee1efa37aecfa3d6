#!/usr/bin/env bash
# Runs the end-to-end tests of the real app window: a virtual display, a private D-Bus
# session, and a private runtime folder, all gone when the tests end.
set -euo pipefail
cd "$(dirname "$0")"
runtime=$(mktemp -d)
chmod 700 "$runtime"
trap 'rm -rf "$runtime"' EXIT
export XDG_RUNTIME_DIR="$runtime" LANG=en_US.UTF-8 NO_AT_BRIDGE=1
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- npm test
