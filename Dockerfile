# syntax=docker/dockerfile:1
#
# Images of mcm-grpc-driver (multi-stage; every runtime image is non-root):
#
#   docker build --target provider       -t mcm-grpc-driver-provider:dev .        (Gardener: one container)
#   docker build --target sidecar        -t mcm-grpc-driver-sidecar:dev .         (the default target)
#   docker build --target bridge         -t mcm-grpc-driver-bridge:dev .
#   docker build --target e2e-fake-cloud -t mcm-grpc-driver-e2e-fake-cloud:dev .  (kind e2e only)
#
# In a Gardener seed the provider image is the one provider container of the
# machine-controller-manager Deployment: it takes MCM's provider flags
# unchanged (ProviderSidecarContainer's arguments) and runs the bridge, which
# starts the sidecar as its child (README "One provider container").
# The alternative is two containers: the bridge image as the provider container
# and the sidecar image next to it, both mounting an emptyDir at
# /var/run/mcm-driver for the driver socket (kind/base).
#
# Without a registry (CI here): build against local stand-ins of the base images
# (../shared/tools/local-base-images.sh) with DOCKER_BUILDKIT=0 --network host
# --build-arg NODE_IMAGE=local/node:20 --build-arg GO_IMAGE=local/golang:1.26.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG GO_IMAGE=golang:1.26-bookworm

# ---- Node dependencies (dev included: TypeScript, tsx, Prism) ---------------
FROM ${NODE_IMAGE} AS node-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

# ---- the sidecar, compiled and bundled; then only production dependencies ---
FROM node-deps AS sidecar-build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsconfig.build.json also compiles the fakes: `mcm-driver demo` plays against the STACKIT fake.
COPY test/fakes ./test/fakes
COPY scripts/bundle.mjs ./scripts/bundle.mjs
# dist/bundle (scripts/bundle.mjs, esbuild): what both images launch. A few files instead of hundreds of modules
# start faster and hold less (bench/RESULTS.md §4). node_modules stays: grpc-health-check and @grpc/reflection read
# their .proto files from it at run time.
RUN npm run build && npm run build:bundle && npm prune --omit=dev --ignore-scripts

# ---- the Go bridge (MCM's machine controller + gRPC forwarding) -------------
FROM ${GO_IMAGE} AS bridge-build
WORKDIR /src/bridge
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
COPY bridge/go.mod bridge/go.sum ./
RUN go mod download
COPY bridge/ ./
RUN go build -trimpath -ldflags "-s -w" -o /out/machine-controller ./cmd/machine-controller

FROM gcr.io/distroless/static-debian12:nonroot AS bridge
COPY --from=bridge-build /out/machine-controller /machine-controller
USER 65532:65532
# 10259: MCM's provider metrics/healthz port (--port)
EXPOSE 10259
ENTRYPOINT ["/machine-controller"]

# ---- one provider container: the bridge, which runs the sidecar as its child -
# The bridge is PID 1: it forwards SIGTERM/SIGINT to the sidecar, exits when the
# sidecar dies, and the sidecar dies with it (Pdeathsig). It makes the socket in
# a private directory under /tmp. The sidecar's /healthz, /readyz and /metrics
# stay on loopback (10260); the pod's probe and metrics port is MCM's 10259.
FROM gcr.io/distroless/nodejs20-debian12:nonroot AS provider
WORKDIR /app
COPY --from=sidecar-build /app/package.json ./
COPY --from=sidecar-build /app/node_modules ./node_modules
COPY --from=sidecar-build /app/dist ./dist
COPY proto ./proto
COPY --from=bridge-build /out/machine-controller /machine-controller
# --max-semi-space-size=2: V8's young generation at 2 MiB per semi-space instead of 16 MiB lowers the
# sidecar's peak RSS under MCM's 50 workers at no CPU cost above the noise of a loaded machine (README "Performance", bench/RESULTS.md).
# --heap-growing-percent=20: V8 lets the old generation grow by 20 % (not its default of up to 100 %+) before the next
# full collection, so the peak is closer to the live heap (under load: 79 MiB committed old space held 24-35 MiB live),
# for some more CPU spent collecting. It caps nothing: a 50,000-VM ListMachines still gets the heap it needs.
# The same flags as the sidecar image's ENTRYPOINT below (test/unit/bench/launch-flags.test.ts); the bench
# launches its sidecars with them (bench/lib/node-flags.ts).
ENV MCM_DRIVER_SIDECAR_COMMAND="/nodejs/bin/node --max-semi-space-size=2 --heap-growing-percent=20 /app/dist/bundle/main.js serve --http-listen=127.0.0.1:10260"
USER 65532:65532
# 10259: MCM's provider metrics/healthz port (--port), Gardener's liveness probe
EXPOSE 10259
ENTRYPOINT ["/machine-controller"]

# ---- fake clouds + Prism for the kind e2e (test code; never deploy elsewhere) -
FROM node-deps AS e2e-fake-cloud
COPY tsconfig.json ./
COPY specs ./specs
COPY test/fakes ./test/fakes
COPY test/e2e/clouds ./test/e2e/clouds
COPY test/e2e/fake-cloud ./test/e2e/fake-cloud
USER 1000:1000
ENTRYPOINT ["node", "--import", "tsx", "test/e2e/fake-cloud/main.ts"]

# ---- the sidecar (last stage: the default target) ---------------------------
FROM gcr.io/distroless/nodejs20-debian12:nonroot AS sidecar
WORKDIR /app
COPY --from=sidecar-build /app/package.json ./
COPY --from=sidecar-build /app/node_modules ./node_modules
COPY --from=sidecar-build /app/dist ./dist
COPY proto ./proto
USER 65532:65532
# gRPC on the socket in /var/run/mcm-driver (an emptyDir shared with the bridge);
# /healthz, /readyz, /metrics on --http-listen. Node runs as PID 1 without tini on
# purpose: `serve` installs its own SIGTERM/SIGINT handlers (graceful shutdown) and
# starts no child processes, so there is nothing to reap. The node flags are the provider image's
# (MCM_DRIVER_SIDECAR_COMMAND above); kind/base runs this ENTRYPOINT unchanged.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "--heap-growing-percent=20", "dist/bundle/main.js"]
CMD ["serve"]
