# Gatewatch: the two commands the README names, and the pieces they are made of.
#   make demo   builds and starts the demo (for now: the gateway simulator in the foreground)
#   make test   runs every test of the project

CARGO ?= cargo
PYTHON ?= python3
VENV := target/py-venv
SIM := target/debug/gatewatch-sim

.PHONY: test demo rust-test python-test bench-smoke bench fuzz lint

test: rust-test python-test bench-smoke

# The binaries first: supervisor tests spawn the real worker from target/debug.
rust-test:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

# The official IB Python client against the simulator binary, in a venv this target creates.
python-test: $(VENV)/.installed
	$(CARGO) build -p gatewatch-sim
	GATEWATCH_SIM=$(SIM) $(VENV)/bin/python -m pytest -q tests/python

$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

# A few iterations of the benchmarks, so they keep working; `make bench` gives the figures.
bench-smoke:
	$(CARGO) test -p gatewatch-sim --bench sim -- --quick
	$(CARGO) test -p gatewatch-supervisor --bench supervisor -- --quick

bench:
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p gatewatch-sim --bench sim
	$(CARGO) bench -p gatewatch-supervisor --bench supervisor

# A short fuzz run of the frame and message decoders (needs `cargo install cargo-fuzz`).
fuzz:
	cd crates/wire/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=60

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

demo:
	@echo "Gatewatch demo: the app is not built yet, so this starts the gateway simulator."
	@echo "API on 127.0.0.1:4002 (IB Gateway paper port), control port on 127.0.0.1:4102; Ctrl-C stops it."
	$(CARGO) run -p gatewatch-sim -- --port 4002 --control-port 4102
