# kplug — build, install, test and package the kubectl plugins.
#
#   make install   build release binaries of every plugin and install them (PREFIX=~/.local)
#   make test      everything: fmt check, clippy -D warnings, unit, integration and end-to-end tests
#   make peers     build or install the end-to-end peers (cached in ~/.cache/kplug-e2e)
#   make bench     benchmarks
#   make fuzz      cargo-fuzz every fuzz target for FUZZ_SECONDS each (needs a nightly toolchain)
#   make dist      release archives + krew manifests in dist/
#   make image     the collector's OCI image in dist/image (IMAGE=REGISTRY/REPO pushes it with oras
#                  and points deploy/eventlog at it by digest)

SHELL := /bin/bash
PREFIX ?= $(HOME)/.local
BINDIR ?= $(PREFIX)/bin
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

DIST_TOOL = $(CARGO) run --quiet --locked -p kplug-tests --bin kplug-dist --

.PHONY: all setup setup-build static-collector build install uninstall test fmt-check clippy peers unit bench fuzz dist image clean

all: build

setup:
	@scripts/setup.sh test

# What building and installing need: a Rust toolchain, nothing else.
setup-build:
	@scripts/setup.sh build

build: setup-build
	$(CARGO) build --workspace --locked

# The plugin binaries that exist today (one per krew/<name>.yaml whose crate has landed).
PLUGINS_CMD = $(DIST_TOOL) plugins

install: setup-build
	@set -euo pipefail; \
	bins="$$($(PLUGINS_CMD))"; \
	if [ -z "$$bins" ]; then echo "make install: no plugin crate exists yet; nothing to install"; exit 0; fi; \
	$(CARGO) build --release --locked $$(for b in $$bins; do printf -- '--bin %s ' "$$b"; done); \
	mkdir -p "$(BINDIR)"; \
	for b in $$bins; do install -m 0755 "target/release/$$b" "$(BINDIR)/$$b"; echo "installed $(BINDIR)/$$b"; \
	  ln -sf "$$b" "$(BINDIR)/kubectl_complete-$${b#kubectl-}"; echo "linked $(BINDIR)/kubectl_complete-$${b#kubectl-} (kubectl's completion of $${b#kubectl-})"; done; \
	case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "note: $(BINDIR) is not on PATH; add it so kubectl finds the plugins";; esac

uninstall:
	@for f in krew/*.yaml; do n=$$(basename $$f .yaml); \
	  for b in "$(BINDIR)/kubectl-$${n//-/_}" "$(BINDIR)/kubectl_complete-$${n//-/_}"; do \
	    if [ -e "$$b" ] || [ -L "$$b" ]; then rm -f "$$b"; echo "removed $$b"; fi; done; done

fmt-check: setup
	$(CARGO) fmt --all -- --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

peers: setup
	tests/e2e/peers.sh

unit: setup
	$(CARGO) test --workspace --locked

# The collector linked statically, as the image holds it (debug build): built
# before the tests so the image test does not compile while others run.
static-collector: setup
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --quiet --locked --target x86_64-unknown-linux-gnu -p kubectl-events --bin kubectl-eventlog

test: fmt-check clippy peers static-collector unit

bench: setup
	$(CARGO) bench --workspace --locked

# libFuzzer needs nightly; the seeds are committed, the grown corpus stays local.
FUZZ_SECONDS ?= 600
FUZZ_DIRS = plugins/kubectl-compat/fuzz plugins/kubectl-sidecar/fuzz plugins/kubectl-events/fuzz plugins/kubectl-inference/fuzz
fuzz: setup
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@set -euo pipefail; for d in $(FUZZ_DIRS); do \
	  for t in $$(sed -n 's/^name = "\(.*\)"/\1/p' $$d/Cargo.toml | tail -n +2); do \
	    mkdir -p $$d/corpus/$$t; \
	    (cd $$d && $(CARGO) +nightly fuzz run -O $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS)); \
	  done; done

dist: setup-build
	$(DIST_TOOL) --out dist

# A static glibc build (no musl toolchain needed), then an OCI layout; with
# IMAGE set, pushed by oras (ORAS=path to use another) and referenced by digest.
IMAGE_TARGET = x86_64-unknown-linux-gnu
IMAGE_TAG ?= v$(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image: setup-build
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked --target $(IMAGE_TARGET) -p kubectl-events --bin kubectl-eventlog
	$(CARGO) run --quiet --locked -p kplug-tests --bin kplug-image -- \
	  --binary target/$(IMAGE_TARGET)/release/kubectl-eventlog --out dist/image --tag $(IMAGE_TAG) \
	  $(if $(IMAGE),--push $(IMAGE) --deployment deploy/eventlog/20-collector.yaml --deployment deploy/eventlog/ha/20-collector.yaml $(if $(PLAIN_HTTP),--plain-http))

clean:
	$(CARGO) clean
	rm -rf dist
