#!/usr/bin/env bash
# Build or install every peer of the end-to-end tier at its pinned version into
# a cache outside the repository, reusing what is already there. Ends with one
# line per peer: name, version, path, and built / cached / FAILED: <reason>.
# Writes $cache/peers.env (NAME=path) for the Rust harness. Exit 1 if any failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KPLUG_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kplug-e2e}
mkdir -p "$cache"
export PATH="$PATH:/usr/local/go/bin:$HOME/go/bin"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

# Pinned versions: the only place they are written down.
KUBE_VERSION=v1.36.3          # k8s.io/kubernetes (wrapper module in peers/kube-apiserver)
ETCD_VERSION=v3.6.8           # go.etcd.io/etcd/server/v3 (wrapper in peers/etcd)
KREW_VERSION=v0.4.3           # sigs.k8s.io/krew
ORAS_VERSION=v1.3.6           # oras.land/oras
GGCR_VERSION=v0.22.1          # github.com/google/go-containerregistry/pkg/registry (wrapper in peers/oci-registry)
NFD_VERSION=v0.19.0           # sigs.k8s.io/node-feature-discovery (wrapper in peers/nfd)
KUBE_SCORE_VERSION=v1.20.0    # github.com/zegl/kube-score (sidecar analysis benchmark and e2e)
GIE_CRD_VERSIONS="v1.5.0 v0.5.1"  # sigs.k8s.io/gateway-api-inference-extension CRDs (kubectl inference)
GIE_VERSION=v1.5.0            # the endpoint picker (cmd/epp) and an ext_proc client (wrapper in peers/gie)
INFERENCE_SIM_VERSION=v0.10.2 # github.com/llm-d/llm-d-inference-sim (wrapper in peers/inference-sim)
GATEWAY_API_VERSION=v1.6.3    # sigs.k8s.io/gateway-api CRDs (HTTPRoute, Gateway, ReferenceGrant)

summary=()
env_lines=()
failed=0

# A short hash of a wrapper module's files: a changed wrapper is a new build.
wrapper_hash() { cat "$here/peers/$1"/* 2>/dev/null | sha256sum | cut -c1-8; }

# go_peer NAME VERSION ENVKEY BINARY -- command to build into $out
go_peer() {
  local name=$1 version=$2 key=$3 bin=$4; shift 5
  local dir="$cache/$name-$version" out
  [ -d "$here/peers/$name" ] && dir="$dir-$(wrapper_hash "$name")"
  if [ -x "$dir/$bin" ]; then
    summary+=("$(printf '%-16s %-10s %s  cached' "$name" "$version" "$dir/$bin")")
  else
    out="$dir.tmp"; rm -rf "$out"; mkdir -p "$out"
    local start=$SECONDS log="$cache/$name-$version.log"
    echo "peers: building $name $version ..." >&2
    if (export out; "$@") >"$log" 2>&1 && [ -x "$out/$bin" ]; then
      rm -rf "$dir"; mv "$out" "$dir"
      summary+=("$(printf '%-16s %-10s %s  built in %ss' "$name" "$version" "$dir/$bin" $((SECONDS - start)))")
    else
      rm -rf "$out"; failed=1
      summary+=("$(printf '%-16s %-10s %s  FAILED: %s (log: %s)' "$name" "$version" "-" "$(grep -v '^go: downloading' "$log" | tail -1)" "$log")")
      return
    fi
  fi
  env_lines+=("$key=$dir/$bin")
}

build_kube_apiserver() { cd "$here/peers/kube-apiserver" && go build -trimpath -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver; }
build_oci_registry() { cd "$here/peers/oci-registry" && go build -trimpath -o "$out/oci-registry" .; }
build_etcd() { cd "$here/peers/etcd" && go build -trimpath -o "$out/etcd" .; }
build_nfd() {
  cd "$here/peers/nfd" &&
    go build -trimpath -o "$out/nfd" sigs.k8s.io/node-feature-discovery/cmd/nfd &&
    go build -trimpath -o "$out/nfd-worker" sigs.k8s.io/node-feature-discovery/cmd/nfd-worker
}
build_gie() {
  cd "$here/peers/gie" &&
    go build -trimpath -o "$out/epp" sigs.k8s.io/gateway-api-inference-extension/cmd/epp &&
    go build -trimpath -o "$out/extproc-client" .
}
build_inference_sim() {
  cd "$here/peers/inference-sim" &&
    go build -trimpath -o "$out/llm-d-inference-sim" github.com/llm-d/llm-d-inference-sim/cmd/llm-d-inference-sim
}
go_install() { GOBIN="$out" go install "$1"; }

go_peer kube-apiserver "$KUBE_VERSION" KUBE_APISERVER kube-apiserver -- build_kube_apiserver
go_peer etcd "$ETCD_VERSION" ETCD etcd -- build_etcd
go_peer krew "$KREW_VERSION" KREW krew -- go_install "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION"
go_peer oras "$ORAS_VERSION" ORAS oras -- go_install "oras.land/oras/cmd/oras@$ORAS_VERSION"
go_peer kube-score "$KUBE_SCORE_VERSION" KUBE_SCORE kube-score -- go_install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
go_peer oci-registry "$GGCR_VERSION" REGISTRY_REFERRERS oci-registry -- build_oci_registry
go_peer nfd "$NFD_VERSION" NFD nfd -- build_nfd
go_peer gie "$GIE_VERSION" EPP epp -- build_gie
gie_dir="$cache/gie-$GIE_VERSION-$(wrapper_hash gie)"
[ -x "$gie_dir/extproc-client" ] && env_lines+=("EXTPROC_CLIENT=$gie_dir/extproc-client")
go_peer inference-sim "$INFERENCE_SIM_VERSION" INFERENCE_SIM llm-d-inference-sim -- build_inference_sim
nfd_dir="$cache/nfd-$NFD_VERSION-$(wrapper_hash nfd)"
if [ -x "$nfd_dir/nfd-worker" ]; then
  env_lines+=("NFD_WORKER=$nfd_dir/nfd-worker")
  # NFD's own CRDs (NodeFeature, NodeFeatureRule, …) from the same pinned module.
  if [ ! -f "$nfd_dir/nfd-api-crds.yaml" ]; then
    src=$(cd "$here/peers/nfd" && go list -m -f '{{.Dir}}' sigs.k8s.io/node-feature-discovery 2>/dev/null)
    cp "$src/deployment/base/nfd-crds/nfd-api-crds.yaml" "$nfd_dir/" 2>/dev/null || true
  fi
  [ -f "$nfd_dir/nfd-api-crds.yaml" ] && env_lines+=("NFD_CRDS=$nfd_dir/nfd-api-crds.yaml")
fi

# CRDs copied from a Go module's directory, once per version:
# module_crds NAME VERSION MODULE SUBDIR ENVKEY
module_crds() {
  local name=$1 v=$2 module=$3 subdir=$4 key=$5 dir="$cache/$1-$2" state=cached src
  if [ ! -d "$dir" ]; then
    state=built
    src=$(cd "$cache" && go mod download -json "$module@$v" 2>"$dir.log" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    if [ -z "$src" ] || ! ls "$src/$subdir"/*.yaml >/dev/null 2>&1; then
      failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' "$name" "$v" - "no $subdir in the module (log: $dir.log)")"); return
    fi
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp" && cp "$src/$subdir"/*.yaml "$dir.tmp/" && chmod u+w "$dir.tmp"/* && mv "$dir.tmp" "$dir"
  fi
  summary+=("$(printf '%-16s %-10s %s  %s' "$name" "$v" "$dir" "$state")")
  env_lines+=("$key=$dir")
}
# The Gateway API Inference Extension's CRDs: v1.5.0 (v1 InferencePool, x-k8s
# InferenceObjective, rewrites, imports) and v0.5.1 (x-k8s v1alpha2
# InferencePool and InferenceModel).
for v in $GIE_CRD_VERSIONS; do
  module_crds gie-crds "$v" sigs.k8s.io/gateway-api-inference-extension config/crd/bases "GIE_CRDS_$(echo "${v#v}" | tr . _)"
done
module_crds gateway-api-crds "$GATEWAY_API_VERSION" sigs.k8s.io/gateway-api config/crd/standard GATEWAY_API_CRDS

# Debian packages: installed with apt when missing (as root), used where Debian puts them.
apt_updated=0
deb_peer() {
  local name=$1 package=$2 key=$3 path=$4 state=cached
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    state=built
    if [ "$(id -u)" -ne 0 ]; then
      failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' "$name" "-" "-" "Debian package $package is not installed (run as root or: apt-get install $package)")"); return
    fi
    [ $apt_updated -eq 1 ] || { apt-get update -qq >/dev/null 2>&1; apt_updated=1; }
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >"$cache/$name.log" 2>&1; then
      failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' "$name" "-" "-" "apt-get install $package: $(tail -1 "$cache/$name.log")")"); return
    fi
    state="built (apt)"
  fi
  local version; version=$(dpkg-query -W -f='${Version}' "$package")
  path=$(eval echo "$path")
  if [ ! -e "$path" ]; then
    failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' "$name" "$version" "$path" "not found after installing $package")"); return
  fi
  summary+=("$(printf '%-16s %-10s %s  %s' "$name" "$version" "$path" "$state")")
  env_lines+=("$key=$path")
}
deb_peer docker-registry docker-registry REGISTRY_PLAIN /usr/bin/docker-registry
deb_peer postgresql postgresql-15 POSTGRES_BIN /usr/lib/postgresql/15/bin
# Headless Chromium for the eventlog report's page test.
deb_peer chromium chromium CHROMIUM /usr/bin/chromium
# Prometheus Alertmanager, where eventlog's alerts are sent in the e2e tests.
deb_peer alertmanager prometheus-alertmanager ALERTMANAGER /usr/bin/prometheus-alertmanager
# Certificates for the PostgreSQL-over-TLS tests.
deb_peer openssl openssl OPENSSL /usr/bin/openssl

# Citus (distributed PostgreSQL) for the fleet-scale store tests. No registry
# here serves it: its upstream archive sits beside the project
# (../shared/peers/citus, or $KPLUG_CITUS_SOURCE). An installed Citus for
# Debian's PostgreSQL 15 is used as it is; otherwise it is built against that
# PostgreSQL and installed, with a copy of the server, into the peer cache —
# the server finds its extensions relative to its own binary, so the copy
# loads Citus and the system's PostgreSQL stays untouched.
CITUS_VERSION=13.2.2
citus_peer() {
  local v=$CITUS_VERSION dir="$cache/citus-$CITUS_VERSION" log="$cache/citus-$CITUS_VERSION.log"
  local pg=/usr/lib/postgresql/15
  if [ -e "$pg/lib/citus.so" ]; then
    summary+=("$(printf '%-16s %-10s %s  %s' citus installed "$pg/bin" "on the machine")")
    env_lines+=("CITUS_BIN=$pg/bin"); return
  fi
  if [ -x "$dir/usr/lib/postgresql/15/bin/postgres" ] && [ -e "$dir/usr/lib/postgresql/15/lib/citus.so" ]; then
    summary+=("$(printf '%-16s %-10s %s  cached' citus "$v" "$dir/usr/lib/postgresql/15/bin")")
    env_lines+=("CITUS_BIN=$dir/usr/lib/postgresql/15/bin"); return
  fi
  # Beside this checkout, or beside the repository it was cloned from (a
  # CI checkout of a local repository).
  local root origin src=${KPLUG_CITUS_SOURCE:-}
  root=$(cd "$here/../.." && pwd)
  origin=$(git -C "$root" config remote.origin.url 2>/dev/null || true)
  if [ -z "$src" ]; then
    src="$root/../shared/peers/citus/citus-$v.tar.gz"
    [ ! -f "$src" ] && [ -d "$origin" ] && src="$origin/../shared/peers/citus/citus-$v.tar.gz"
  fi
  if [ ! -f "$src" ]; then
    # Not a failure of the tier: the Citus tests say they were skipped and why.
    summary+=("$(printf '%-16s %-10s %s  UNAVAILABLE: %s' citus "$v" - "no source archive at $src (set KPLUG_CITUS_SOURCE)")"); return
  fi
  local deps="postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev"
  local missing="" p
  for p in $deps; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' citus "$v" - "build needs:$missing (run as root or apt-get install them)")"); return
    fi
    [ $apt_updated -eq 1 ] || { apt-get update -qq >/dev/null 2>&1; apt_updated=1; }
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
      failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' citus "$v" - "apt-get install$missing: $(tail -1 "$log")")"); return
    fi
  fi
  local start=$SECONDS work="$cache/citus-build"
  echo "peers: building citus $v ..." >&2
  rm -rf "$work" "$dir.tmp"; mkdir -p "$work" "$dir.tmp"
  if (
    set -e
    tar -xzf "$src" -C "$work" --strip-components=1
    cd "$work"
    # Debian's PostgreSQL 15.18 exports have_createdb_privilege() itself;
    # Citus 13.2.2 still carries a static fallback of it for older 15.x
    # releases, which then clashes. Use the server's declaration instead.
    python3 - src/include/pg_version_compat.h <<'PATCH'
import re, sys
path = sys.argv[1]
text = open(path).read()
fallback = re.compile(r"static inline bool\s*\n?\s*have_createdb_privilege\(void\)\s*\{.*?\n\}\n", re.S)
text, n = fallback.subn("", text, count=1)
if n != 1:
    sys.exit("pg_version_compat.h: the have_createdb_privilege fallback was not found")
# The PostgreSQL 15 branch of the header: declare it from the server.
anchor = "#define pg_clean_ascii_compat(a, b) pg_clean_ascii(a)"
if anchor not in text:
    sys.exit("pg_version_compat.h: the PostgreSQL 15 branch was not found")
text = text.replace(anchor, "#include \"commands/dbcommands.h\"\n" + anchor, 1)
open(path, "w").write(text)
PATCH
    ./configure --without-libcurl PG_CONFIG=$pg/bin/pg_config
    make -j"$(nproc)"
    make install DESTDIR="$dir.tmp"
    # The server beside the extension (copies: it resolves symlinks to find its share directory).
    mkdir -p "$dir.tmp/usr/lib/postgresql/15" "$dir.tmp/usr/share/postgresql/15"
    cp -a "$pg/bin" "$dir.tmp/usr/lib/postgresql/15/"
    cp -an "$pg/lib/." "$dir.tmp/usr/lib/postgresql/15/lib/"
    cp -an /usr/share/postgresql/15/. "$dir.tmp/usr/share/postgresql/15/"
    test -e "$dir.tmp/usr/lib/postgresql/15/lib/citus.so"
  ) >"$log" 2>&1; then
    rm -rf "$dir" "$work"; mv "$dir.tmp" "$dir"
    summary+=("$(printf '%-16s %-10s %s  built in %ss' citus "$v" "$dir/usr/lib/postgresql/15/bin" $((SECONDS - start)))")
    env_lines+=("CITUS_BIN=$dir/usr/lib/postgresql/15/bin")
  else
    failed=1; rm -rf "$dir.tmp"
    summary+=("$(printf '%-16s %-10s %s  FAILED: %s (log: %s)' citus "$v" - "$(tail -1 "$log")" "$log")")
  fi
}
citus_peer

# kubectl is used as the machine has it.
if command -v kubectl >/dev/null 2>&1; then
  kv=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -1)
  summary+=("$(printf '%-16s %-10s %s  %s' kubectl "${kv:-?}" "$(command -v kubectl)" "on the machine")")
  env_lines+=("KUBECTL=$(command -v kubectl)")
else
  failed=1; summary+=("$(printf '%-16s %-10s %s  FAILED: %s' kubectl - - "kubectl is not on PATH")")
fi

printf '%s\n' "${env_lines[@]}" >"$cache/peers.env"
printf '%s\n' "${summary[@]}"
exit $failed
