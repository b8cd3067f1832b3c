# Thin driver over CMake. Every target installs the Debian packages it needs
# (checked with dpkg -s, then apt-get install -y only what is missing), so a
# fresh Debian 12 machine needs nothing but this repository.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
LISTEN     ?= 127.0.0.1:8080
SCENARIO   ?= examples/al-bab.json
PY         := /usr/bin/python3

PKGS_BUILD := gcc make cmake pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev \
              libsodium-dev libssl-dev libproj-dev
PKGS_TEST  := $(PKGS_BUILD) clang libclang-rt-14-dev python3 python3-pytest python3-requests \
              python3-numpy python3-shapely python3-pyproj sqlite3 curl chromium
PKGS_BENCH := $(PKGS_BUILD) postgresql-15 postgresql-15-postgis-3 redis-server libpq-dev


.PHONY: deps-node
.PHONY: all build run test test-unit test-asan test-fuzz test-service test-web bench bench-smoke \
        deps-build deps-test deps-bench web clean format

all: build

define install_pkgs
	@missing=""; for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps-build:
	$(call install_pkgs,$(PKGS_BUILD))

# Node.js and npm build the browser page; Debian's own packages are used
# only when no node/npm is on the machine already.
deps-node:
	@command -v npm >/dev/null 2>&1 || { echo "installing: nodejs npm"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }

deps-test: deps-node
	$(call install_pkgs,$(PKGS_TEST))

deps-bench:
	$(call install_pkgs,$(PKGS_BENCH))

build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

web: deps-node
	web/build.sh

run: build web
	@scripts/run-demo.sh $(BUILD)/deconflict $(SCENARIO) $(LISTEN)

test: deps-test deps-bench
	@scripts/test-all.sh

bench: deps-bench build
	@scripts/bench.sh

bench-smoke: deps-bench build
	@BENCH_SMOKE=1 scripts/bench.sh

format:
	clang-format -i src/*/*.c src/*/*.h tests/*.c tests/*.h fuzz/*.c bench/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
