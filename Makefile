# Gatewatch: the two commands the README names, and the pieces they are made of.
#   make demo   installs what is missing, builds the UI and the app, starts it on the embedded simulator
#   make test   installs what is missing, then runs every test of the project (clippy included)

CARGO ?= cargo
PYTHON ?= python3
VENV := target/py-venv
SIM := target/debug/gatewatch-sim

.PHONY: test demo deps ui ui-test rust-test python-test e2e-test package package-test windows-check screenshots icons bench-smoke bench fuzz lint sim

test: deps ui-test lint rust-test python-test e2e-test package-test windows-check bench-smoke

deps:
	scripts/install-deps.sh

# The app embeds ui/dist at compile time, so the UI is built before any cargo build.
ui: ui/node_modules/.installed
	cd ui && npm run build

ui/node_modules/.installed: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

ui-test: ui
	cd ui && npm test

# The binaries first: supervisor tests spawn the real worker from target/debug.
rust-test: deps ui
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

# The real app window under Xvfb, driven by WebKitWebDriver, against a simulator it controls.
e2e-test: rust-test $(VENV)/.installed tests/e2e/node_modules/.installed
	tests/e2e/run.sh

# The e2e tests photograph the window in each state (target/e2e/states); this copies the
# photographs of the last run into docs/screenshots, where the README shows them.
screenshots:
	mkdir -p docs/screenshots
	cp target/e2e/states/*.png docs/screenshots/

# The .deb, built by Tauri's bundler in release: target/release/bundle/deb/.
package: deps ui
	scripts/package.sh release

# The .deb built from the debug build (after the e2e tests: Tauri's build of the app replaces
# target/debug/gatewatch with its bundle build) and checked: lintian, the desktop entry, the
# installed layout, the installed app and CLI finding their worker.
package-test: e2e-test
	deb=$$(scripts/package.sh debug) && tests/package/check.sh "$$deb"

# The whole workspace, the Tauri shell included, type-checked for Windows (what this Linux
# machine can prove of a Windows build; docs/platforms.md). Skipped, saying so, when the
# Rust target cannot be installed.
windows-check: deps ui
	scripts/windows-check.sh

# The bundles' icons from icons/generate.py's drawing (checked in).
icons: ui/node_modules/.installed
	scripts/icons.sh

tests/e2e/node_modules/.installed: tests/e2e/package.json tests/e2e/package-lock.json
	cd tests/e2e && npm ci --no-audit --no-fund
	touch $@

# The official IB Python client against the simulator binary, in a venv this target creates;
# also the byte-for-byte comparison of its requests with the worker's; and `serve` under the
# official OpenMetrics parser, a real Prometheus and promtool.
python-test: $(VENV)/.installed
	$(CARGO) build -p gatewatch-sim -p gatewatch-worker -p gatewatch-cli
	GATEWATCH_SIM=$(SIM) GATEWATCH_WORKER=target/debug/gatewatch-worker $(VENV)/bin/python -m pytest -q tests/python

$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

# A few iterations of the benchmarks, so they keep working; `make bench` gives the figures.
bench-smoke: ui
	$(CARGO) test -p gatewatch-sim --bench sim -- --quick
	$(CARGO) test -p gatewatch-supervisor --bench supervisor -- --quick
	$(CARGO) test -p gatewatch-app --bench fleet -- --quick
	$(CARGO) test -p gatewatch-app --bench history -- --quick
	$(CARGO) test -p gatewatch-endpoints --bench metrics -- --quick

bench: ui $(VENV)/.installed
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p gatewatch-sim --bench sim
	$(CARGO) bench -p gatewatch-supervisor --bench supervisor
	$(CARGO) bench -p gatewatch-app --bench fleet
	$(CARGO) bench -p gatewatch-app --bench history
	$(CARGO) bench -p gatewatch-endpoints --bench metrics

# A short fuzz run of the frame and message decoders (needs `cargo install cargo-fuzz`).
fuzz:
	cd crates/wire/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=60

# clippy with -D warnings also enforces clippy.toml: no call to ibapi's order API anywhere.
lint: deps ui
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

# The desktop app on an embedded simulator with the demo scenario. LANG is set because
# WebKitGTK reports the C locale as "C"; the UI copes, but numbers read better this way.
demo: deps ui
	$(CARGO) build --workspace --bins
	LANG=en_US.UTF-8 target/debug/gatewatch --demo

# The simulator alone in the foreground, for pointing other clients at it.
sim:
	$(CARGO) run -p gatewatch-sim -- --port 4002 --control-port 4102
