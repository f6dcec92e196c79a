#!/usr/bin/env bash
# Builds the local end-to-end control plane (kube-apiserver, etcd, MCM core)
# from the Go module proxy, once per version set, into a cache outside the repo:
#
#   ${MCM_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcm-grpc-driver}/<key>/
#     bin/{kube-apiserver,etcd,machine-controller-manager}
#     crds/machine.sapcloud.io_*.yaml
#     build/{kube,etcd,mcm}/   throw-away Go modules (go.mod/go.sum only)
#
# Nothing here is vendored or committed: each binary is an ordinary dependency
# of a throw-away module and is built with `go build`. See
# ../shared/docs/local-control-plane.md §1.2 for the recipe.
#
# Prints the cache directory (<key> dir) as the LAST line of stdout.
# Idempotent: if everything for the key exists, it exits immediately.
set -euo pipefail

# ---- versions (change here; the cache key follows) -------------------------
K8S_VERSION="${K8S_VERSION:-1.34.4}"   # kube-apiserver; same minor as MCM's k8s.io v0.34.x
ETCD_VERSION="${ETCD_VERSION:-3.6.16}" # kubeadm pairs 1.34 with etcd 3.6.x
MCM_VERSION="${MCM_VERSION:-0.62.1}"   # newest v0.62.x the proxy serves
RECIPE_REV=2                           # bump to force a rebuild with the same versions

KEY="k8s${K8S_VERSION}-etcd${ETCD_VERSION}-mcm${MCM_VERSION}-r${RECIPE_REV}"
CACHE_ROOT="${MCM_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcm-grpc-driver}"
DIR="$CACHE_ROOT/$KEY"
BIN="$DIR/bin"
CRDS="$DIR/crds"
STAMP="$DIR/.complete"

# ---- fast path: no go invocation at all ------------------------------------
if [[ -f "$STAMP" && -x "$BIN/kube-apiserver" && -x "$BIN/etcd" && -x "$BIN/machine-controller-manager" ]] \
  && compgen -G "$CRDS/*.yaml" >/dev/null; then
  echo "$DIR"
  exit 0
fi

STEP="init"
trap 'rc=$?; if [[ $rc -ne 0 ]]; then echo "build.sh: FAILED in step: $STEP (exit $rc)" >&2; fi' EXIT
log() { echo "[build.sh $(date +%H:%M:%S)] $*" >&2; }

mkdir -p "$BIN" "$CRDS" "$DIR/build"

# Serialise concurrent builders for the same key (e.g. parallel test workers).
exec 9>"$DIR/.lock"
STEP="waiting for lock $DIR/.lock"
flock 9
if [[ -f "$STAMP" ]]; then echo "$DIR"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off GO111MODULE=on
export GOFLAGS="-trimpath -mod=mod -buildvcs=false -p=${BUILD_PARALLELISM:-2}"
GOMODCACHE="$(go env GOMODCACHE)"
log "cache dir: $DIR"
log "go: $(go version); GOFLAGS=$GOFLAGS"
log "free disk: $(df -h "$CACHE_ROOT" | awk 'NR==2{print $4}')"

newmod() { # newmod <dir> <module path>
  rm -rf "$1"; mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# ---- kube-apiserver ---------------------------------------------------------
# Version checks read the whole output before matching: with pipefail, `grep -q` or
# `head` closing the pipe early makes the writer die of SIGPIPE (exit 141), which
# failed a cold build at "etcd: version check".
version_of() { "$1" --version 2>/dev/null || true; }
if [[ -x "$BIN/kube-apiserver" ]] && grep -qx "Kubernetes v$K8S_VERSION" <<<"$(version_of "$BIN/kube-apiserver")"; then
  log "kube-apiserver v$K8S_VERSION: already built"
else
  t0=$SECONDS
  M="$DIR/build/kube"
  MINOR="$(cut -d. -f2 <<<"$K8S_VERSION")"
  STAGING_VERSION="v0.${K8S_VERSION#1.}"
  STEP="kube-apiserver: download k8s.io/kubernetes@v$K8S_VERSION"
  log "$STEP"
  newmod "$M" local.invalid/kube-build
  cd "$M"
  go mod download k8s.io/kubernetes@"v$K8S_VERSION"
  UPMOD="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod"
  STEP="kube-apiserver: replace staging modules with $STAGING_VERSION"
  log "$STEP"
  n=0
  for mod in $(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$UPMOD"); do
    go mod edit -replace="$mod=$mod@$STAGING_VERSION"; n=$((n + 1))
  done
  [[ $n -gt 0 ]] || { echo "no staging replace lines found in $UPMOD" >&2; exit 1; }
  go mod edit -go="$(awk '$1=="go"{print $2; exit}' "$UPMOD")"
  GODEBUG_LINE="$(awk '$1=="godebug"{ $1=""; sub(/^ /,""); print; exit}' "$UPMOD")"
  [[ -z "$GODEBUG_LINE" ]] || go mod edit -godebug="$GODEBUG_LINE"
  log "  $n replace lines; go $(awk '$1=="go"{print $2}' go.mod)${GODEBUG_LINE:+; godebug $GODEBUG_LINE}"
  STEP="kube-apiserver: go get k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION"
  log "$STEP"
  go get k8s.io/kubernetes/cmd/kube-apiserver@"v$K8S_VERSION"
  STEP="kube-apiserver: go build (slow on a cold cache: ~10-25 min on 2 cores)"
  log "$STEP"
  LDF="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    LDF+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
  done
  go build -tags=selinux,notest,grpcnotrace -ldflags="$LDF" -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv -f "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  STEP="kube-apiserver: version check"
  "$BIN/kube-apiserver" --version
  log "kube-apiserver built in $((SECONDS - t0))s"
fi

# ---- etcd --------------------------------------------------------------------
if [[ -x "$BIN/etcd" ]] && grep -q "etcd Version: $ETCD_VERSION\$" <<<"$(version_of "$BIN/etcd")"; then
  log "etcd $ETCD_VERSION: already built"
else
  t0=$SECONDS
  M="$DIR/build/etcd"
  STEP="etcd: go get go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  log "$STEP"
  newmod "$M" local.invalid/etcd-build
  cd "$M"
  go get go.etcd.io/etcd/server/v3@"v$ETCD_VERSION"
  STEP="etcd: go build"
  log "$STEP"
  go build -ldflags="-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3
  mv -f "$BIN/etcd.tmp" "$BIN/etcd"
  STEP="etcd: version check"
  etcd_version="$("$BIN/etcd" --version)"
  echo "${etcd_version%%$'\n'*}"
  log "etcd built in $((SECONDS - t0))s"
fi

# ---- machine-controller-manager (core) ----------------------------------------
MCM_MOD=github.com/gardener/machine-controller-manager
if [[ -x "$BIN/machine-controller-manager" && -f "$BIN/.mcm-version" && "$(cat "$BIN/.mcm-version")" == "v$MCM_VERSION" ]]; then
  log "machine-controller-manager v$MCM_VERSION: already built"
else
  t0=$SECONDS
  M="$DIR/build/mcm"
  STEP="machine-controller-manager: go get $MCM_MOD@v$MCM_VERSION"
  log "$STEP"
  newmod "$M" local.invalid/mcm-build
  cd "$M"
  go get "$MCM_MOD/cmd/machine-controller-manager@v$MCM_VERSION"
  go mod edit -go="$(awk '$1=="go"{print $2; exit}' "$GOMODCACHE/cache/download/$MCM_MOD/@v/v$MCM_VERSION.mod")"
  STEP="machine-controller-manager: go build"
  log "$STEP"
  # Stamp as MCM's Makefile does (pkg/version.Version / GitSHA; the SHA comes from the proxy's .info Origin).
  MCM_SHA="$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$GOMODCACHE/cache/download/$MCM_MOD/@v/v$MCM_VERSION.info")"
  go build -ldflags="-s -w -X $MCM_MOD/pkg/version.Version=v$MCM_VERSION -X $MCM_MOD/pkg/version.GitSHA=$MCM_SHA" \
    -o "$BIN/machine-controller-manager.tmp" "$MCM_MOD/cmd/machine-controller-manager"
  mv -f "$BIN/machine-controller-manager.tmp" "$BIN/machine-controller-manager"
  echo "v$MCM_VERSION" >"$BIN/.mcm-version"
  log "machine-controller-manager built in $((SECONDS - t0))s"
fi

# ---- CRDs ---------------------------------------------------------------------
STEP="CRDs: copy from $MCM_MOD@v$MCM_VERSION"
log "$STEP"
cd "$DIR"
MCM_DIR="$(GOFLAGS= go mod download -json "$MCM_MOD@v$MCM_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -n "$MCM_DIR" && -d "$MCM_DIR/kubernetes/crds" ]] || { echo "CRD dir not found under '$MCM_DIR'" >&2; exit 1; }
rm -f "$CRDS"/*.yaml
cp "$MCM_DIR"/kubernetes/crds/machine.sapcloud.io_*.yaml "$CRDS"/
chmod 0644 "$CRDS"/*.yaml
ls "$CRDS" >&2

STEP="finish"
{
  echo "k8s=$K8S_VERSION etcd=$ETCD_VERSION mcm=$MCM_VERSION"
  echo "go=$(go env GOVERSION) built=$(date -u +%FT%TZ)"
} >"$STAMP"
log "done: $DIR"
echo "$DIR"
