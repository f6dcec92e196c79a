#!/usr/bin/env bash
# CI: the `provider` image (Dockerfile) for the e2e scenario provider-container, on a machine with no
# image registry. `start`: Debian's docker.io if missing, a dockerd started here if none answers, local
# stand-ins of the base images (../shared/tools/local-base-images.sh), then the image build (classic builder,
# --network host: npm and the Go proxy are reachable, no registry is). `stop`: stops the dockerd that
# `start` started, and only that one. Fails loudly when Docker cannot work; never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${MCM_E2E_PROVIDER_IMAGE:-mcm-grpc-driver-provider:dev}
state=${MCM_CI_DOCKER_STATE:-${TMPDIR:-/tmp}/mcm-grpc-driver-ci-dockerd}
timed() { local t0=$SECONDS; "$@"; echo "(docker step '$1 ${2:-}': $((SECONDS - t0)) s)"; }
die() { echo "provider image: CANNOT BUILD: $*" >&2; exit 1; }

install_docker() {
  command -v dockerd >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "dockerd is not installed and this is not root (apt-get install docker.io needs root)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >"$state.apt.log" 2>&1 \
    || die "apt-get install docker.io failed: $(tail -3 "$state.apt.log")"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then echo "(a Docker engine already answers: using it, not stopping it)"; return 0; fi
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and only root can start dockerd here"
  dockerd >"$state.log" 2>&1 &
  echo $! >"$state.pid"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$state.pid")" 2>/dev/null || die "dockerd exited: $(tail -5 "$state.log")"
    sleep 0.5
  done
  die "dockerd did not answer within 30 s: $(tail -5 "$state.log")"
}

base_images() {
  local tool=../shared/tools/local-base-images.sh
  if [ -f "$tool" ]; then bash "$tool"; else echo "($tool not present: building against the registry's base images)"; fi
}

build_image() {
  local args=()
  docker image inspect local/node:20 >/dev/null 2>&1 && args+=(--build-arg NODE_IMAGE=local/node:20)
  docker image inspect local/golang:1.26 >/dev/null 2>&1 && args+=(--build-arg GO_IMAGE=local/golang:1.26)
  DOCKER_BUILDKIT=0 docker build --network host "${args[@]}" --target provider -t "$image" . >"$state.build.log" 2>&1 \
    || die "docker build --target provider failed: $(tail -15 "$state.build.log")"
  docker image ls "$image" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
}

case "${1:-}" in
  start)
    timed install_docker
    timed start_dockerd
    timed base_images
    timed build_image
    ;;
  stop)
    if [ -f "$state.pid" ]; then
      pid=$(cat "$state.pid")
      if kill "$pid" 2>/dev/null; then
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      fi
      rm -f "$state.pid"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
