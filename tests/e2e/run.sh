#!/usr/bin/env bash
# Runs the end-to-end tests of the real app window: a virtual display, a private D-Bus
# session with a recording notification service, and a private runtime folder, all gone
# when the tests end. Needs the Python venv that `make python-test` creates (dbus-fast).
set -euo pipefail
cd "$(dirname "$0")"
runtime=$(mktemp -d)
chmod 700 "$runtime"
# The desktop's document portal may still have its FUSE mount in the folder when the tests
# end; a cleanup that cannot finish is not a test failure.
trap 'fusermount -u "$runtime/doc" 2>/dev/null || true; rm -rf "$runtime" 2>/dev/null || true' EXIT
export XDG_RUNTIME_DIR="$runtime" XDG_DATA_HOME="$runtime/data" LANG=en_US.UTF-8 NO_AT_BRIDGE=1
export GATEWATCH_NOTIFICATIONS="$runtime/notifications.jsonl" GATEWATCH_TRAY="$runtime/tray.jsonl"
export GATEWATCH_PRESS="$runtime/press.jsonl"
python=${GATEWATCH_PYTHON:-../../target/py-venv/bin/python}
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- bash -c '
    "$0" fake_notifications.py "$GATEWATCH_NOTIFICATIONS" "$GATEWATCH_TRAY" "$GATEWATCH_PRESS" > "$XDG_RUNTIME_DIR/fake.out" 2>&1 &
    fake=$!
    for _ in $(seq 50); do grep -q ready "$XDG_RUNTIME_DIR/fake.out" 2>/dev/null && break; sleep 0.1; done
    npm test; status=$?
    kill $fake
    exit $status' "$python"
