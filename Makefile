# fathom: the two set-up commands are `make serve` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Debian packages the server needs (libraries to link, ncdump/getdap for users and tests;
# c-blosc for the engine's Blosc decoder, and HDF5 filter plugins so the library can read the
# filtered datasets the engine does not, such as a Blosc-compressed PyTables table).
DEBS := libnetcdf-dev libhdf5-dev pkg-config netcdf-bin libdap-bin hdf5-tools libblosc-dev \
	hdf5-filter-plugin hdf5-filter-plugin-blosc-serial hdf5-plugin-lzf
# What the tests need on top: Python venv support for the real clients.
TEST_DEBS := python3 python3-venv python3-pip
# The tools the interoperability tests drive over DAP2 and DAP4 (tests/clients/test_interop_tools.py).
# nginx: the plain HTTP range server and the load balancer of the object-storage tests
# (tests/clients/test_cloud.py).
TOOL_DEBS := nco cdo gdal-bin grads nginx curl
# The browser test: Debian's Chromium, driven by playwright-core (npm) under Node.js >= 20.
BROWSER_DEBS := chromium curl
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
VENV := .venv
PYTHON ?= python3
CARGO ?= cargo
BIND ?= 127.0.0.1:8080

# The packages of a list that are not installed yet (evaluated when the recipe runs).
missing_debs = $(strip $(shell for p in $(1); do \
	dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done))
# A shell command installing the packages it is given, if any (with sudo when not root).
apt_install = m="$(strip $(1))"; if [ -n "$$m" ]; then \
	echo "Installing Debian packages: $$m"; $(SUDO) apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$m; fi

.PHONY: serve test deps test-deps tool-deps browser-deps venv build rust-test client-test fuzz clean-samples

## Build in release mode and serve DIR (default: the bundled samples) on $(BIND).
serve: deps build
	./target/release/fathom serve $(DIR) --bind $(BIND)

## Install everything the tests use and run every test.
test: deps test-deps tool-deps browser-deps venv build rust-test client-test fuzz

deps:
	@$(call apt_install,$(call missing_debs,$(DEBS)))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with https://rustup.rs"; exit 1; }

## Python's venv module is the one thing the tests need from these; install them only without it.
test-deps:
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { $(call apt_install,$(call missing_debs,$(TEST_DEBS))); }

tool-deps:
	@$(call apt_install,$(call missing_debs,$(TOOL_DEBS)))

browser-deps:
	@missing="$(call missing_debs,$(BROWSER_DEBS))"; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	$(call apt_install,$$missing)
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || \
	  { echo "the browser test needs Node.js >= 20 (playwright-core); found $$(node --version)"; exit 1; }
	@if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then \
	  cd tests/browser && npm ci --no-audit --no-fund --loglevel=error; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r tests/requirements.txt
	touch $@

build:
	$(CARGO) build --release --locked --workspace --bins

rust-test:
	$(CARGO) test --release --locked --workspace

## Each test file runs in an interpreter of its own: the clients load three HDF5 libraries
## (netCDF4's, h5py's, PyTables'), filter plugins, zarr and dask, and a test of one tool must
## not inherit the library state another file's tests left behind. (Exit 5: a file of shared
## helpers with no tests of its own.)
client-test:
	@failed=""; for t in tests/clients/test_*.py; do \
	  echo "== $$t"; \
	  FATHOM_BIN=$(CURDIR)/target/release/fathom FATHOM_REQUIRE_BROWSER=1 \
	    $(VENV)/bin/python -X faulthandler -m pytest -q -p no:cacheprovider "$$t" || \
	    { rc=$$?; [ $$rc -eq 5 ] || failed="$$failed $$t"; }; \
	done; \
	if [ -n "$$failed" ]; then echo "client tests failed in:$$failed"; exit 1; fi

## Fuzz every parser of untrusted input for FUZZ_SECONDS each (cargo-fuzz on the stable
## toolchain, without a sanitizer; by hand, run `fuzz/run.sh 600` or `cargo fuzz run TARGET`).
FUZZ_SECONDS ?= 30
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked --version 0.13.2
	fuzz/run.sh $(FUZZ_SECONDS)

clean-samples:
	rm -rf testdata/samples
