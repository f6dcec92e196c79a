#!/usr/bin/env bash
# Regenerates bridge/gen/driverv1 from proto/mcm/driver/v1/driver.proto.
#
#   hack/generate.sh          regenerate in place
#   hack/generate.sh --check  regenerate into a temp dir and fail (exit 1) if the
#                             committed files differ (drift check for CI)
#
# Generators are installed with `go install` at the pinned versions below into
# bridge/bin/tools (git-ignored). protoc itself comes from Debian's
# `protobuf-compiler` (apt-get install -y protobuf-compiler); its version is
# written into the generated header, so it is pinned too.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf/cmd/protoc-gen-go (keep == google.golang.org/protobuf in go.mod)
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
PROTOC_VERSION=3.21.12              # Debian bookworm protobuf-compiler

BRIDGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROTO_DIR="$(cd "${BRIDGE_DIR}/../proto" && pwd)"
PROTO_FILE="mcm/driver/v1/driver.proto"
OUT_REL="gen/driverv1"
MODULE="mcm-grpc-driver/bridge"
TOOLS_BIN="${BRIDGE_DIR}/bin/tools"

check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: apt-get update && apt-get install -y protobuf-compiler" >&2
  exit 1
fi
have="$(protoc --version | awk '{print $2}')"
if [[ "${have}" != "${PROTOC_VERSION}" && "${ALLOW_PROTOC_MISMATCH:-}" != "1" ]]; then
  echo "protoc ${have} found, ${PROTOC_VERSION} expected (its version is recorded in the generated files)." >&2
  echo "Set ALLOW_PROTOC_MISMATCH=1 to generate anyway." >&2
  exit 1
fi

# Install the pinned generators (a no-op when already built at that version).
installed_version() { # $1 = binary; prints the module version go recorded in it
  [[ -x "$1" ]] && go version -m "$1" 2>/dev/null | awk '$1=="mod"{print $3; exit}'
}
mkdir -p "${TOOLS_BIN}"
if [[ "$(installed_version "${TOOLS_BIN}/protoc-gen-go" || true)" != "${PROTOC_GEN_GO_VERSION}" ]]; then
  GOBIN="${TOOLS_BIN}" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
fi
if [[ "$(installed_version "${TOOLS_BIN}/protoc-gen-go-grpc" || true)" != "${PROTOC_GEN_GO_GRPC_VERSION}" ]]; then
  GOBIN="${TOOLS_BIN}" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
fi

out_root="$(mktemp -d)"
trap 'rm -rf "${out_root}"' EXIT

# module=... strips the module prefix from go_package, so the files land in
# ${out_root}/gen/driverv1.
PATH="${TOOLS_BIN}:${PATH}" protoc \
  --proto_path="${PROTO_DIR}" \
  --go_out="${out_root}" --go_opt="module=${MODULE}" \
  --go-grpc_out="${out_root}" --go-grpc_opt="module=${MODULE}" \
  "${PROTO_DIR}/${PROTO_FILE}"

if ${check}; then
  if ! diff -ru "${BRIDGE_DIR}/${OUT_REL}" "${out_root}/${OUT_REL}"; then
    echo "generated code in bridge/${OUT_REL} is out of date: run bridge/hack/generate.sh" >&2
    exit 1
  fi
  echo "bridge/${OUT_REL} is up to date"
else
  rm -rf "${BRIDGE_DIR:?}/${OUT_REL}"
  mkdir -p "${BRIDGE_DIR}/${OUT_REL}"
  cp "${out_root}/${OUT_REL}/"*.go "${BRIDGE_DIR}/${OUT_REL}/"
  echo "generated bridge/${OUT_REL}:"; ls "${BRIDGE_DIR}/${OUT_REL}"
fi
