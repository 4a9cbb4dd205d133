#!/usr/bin/env bash
# Make a machine ready for kplug. `setup.sh build` (make install, make dist)
# needs only the Rust toolchain. `setup.sh` or `setup.sh test` (make test)
# also wants rustfmt and clippy, kubectl (plugin dispatch tests), Go
# (upstream peers built from source), openssl, CA certificates and util-linux
# `script` (TTY colour tests). Installs what it can; names exactly what is
# missing otherwise.
set -euo pipefail
purpose="${1:-test}"

missing=()
apt_updated=0

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$apt_updated" -eq 0 ]; then
    as_root apt-get update -qq >/dev/null || return 1
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ -d "$HOME/.cargo/bin" ]; then export PATH="$HOME/.cargo/bin:$PATH"; fi

if ! command -v cargo >/dev/null 2>&1; then
  missing+=("the Rust toolchain (cargo); install it with rustup: https://rustup.rs")
fi
if [ "$purpose" = build ]; then
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: missing, please install: ${missing[*]}" >&2
    exit 1
  fi
  exit 0
fi
if command -v cargo >/dev/null 2>&1; then
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      rustup component add rustfmt clippy >/dev/null 2>&1 || missing+=("rustfmt and clippy (rustup component add rustfmt clippy failed)")
    else
      missing+=("rustfmt and clippy for your Rust toolchain")
    fi
  fi
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: kubectl not found; installing Debian's kubernetes-client" >&2
  apt_install kubernetes-client || missing+=("kubectl (any version >= 1.20 on PATH)")
fi

if ! command -v go >/dev/null 2>&1; then
  missing+=("Go >= 1.24 on PATH (builds the upstream peers tests compare against): https://go.dev/dl")
fi

if ! command -v openssl >/dev/null 2>&1; then
  apt_install openssl || missing+=("openssl (Debian package openssl)")
fi

if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then
  apt_install ca-certificates || missing+=("CA certificates at /etc/ssl/certs/ca-certificates.crt (Debian package ca-certificates; the collector image carries them)")
fi

if ! command -v script >/dev/null 2>&1; then
  apt_install bsdutils || missing+=("util-linux 'script' (Debian package bsdutils)")
fi

# `kubectl inference simulate --plot` draws its labels with a system font.
if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  apt_install fonts-dejavu-core || missing+=("a TrueType font for simulate --plot's tests (Debian package fonts-dejavu-core)")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: missing, please install:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
echo "setup: $(cargo --version), $(kubectl version --client 2>/dev/null | head -1)" >&2
