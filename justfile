# mcm-grpc-driver tasks. The e2e suite (test/e2e) runs the same scenarios in
# two environments:
#   just test-e2e-local      processes on 127.0.0.1 (what CI runs); its provider-container scenario
#                            needs Docker and the provider image (just image-provider), else it is skipped
#   just test-e2e            a kind cluster: create, build + load images, deploy, run, delete
#   just test-e2e-preserve   the same, keeping the cluster for a look afterwards

set shell := ["bash", "-euo", "pipefail", "-c"]

cluster := env_var_or_default("KIND_CLUSTER", "mcm-grpc-driver-e2e")
tag := "dev"
work := "test/e2e/.work"
kubeconfig := work / "kind-kubeconfig"

# list the recipes
default:
    @just --list

# the e2e suite against a local kube-apiserver + etcd + MCM (no Docker; first run builds them, ~10-25 min)
test-e2e-local:
    npm run test:e2e

# the e2e suite in a kind cluster (needs docker + kind): create, build + load images, deploy, test, delete
test-e2e: (_kind-e2e "delete")

# like test-e2e, but the cluster stays (delete it with `just kind-down`)
test-e2e-preserve: (_kind-e2e "keep")

# the one-container image for Gardener (the provider-container e2e scenario runs it)
image-provider:
    docker build --target provider -t mcm-grpc-driver-provider:{{tag}} .

# build the three images of the two-container layout (sidecar, bridge, e2e fake clouds)
images:
    docker build --target sidecar -t mcm-grpc-driver-sidecar:{{tag}} .
    docker build --target bridge -t mcm-grpc-driver-bridge:{{tag}} .
    docker build --target e2e-fake-cloud -t mcm-grpc-driver-e2e-fake-cloud:{{tag}} .

# render the kind manifests (what test-e2e applies)
kind-render:
    kubectl kustomize kind/overlays/e2e

# delete the kind cluster
kind-down:
    kind delete cluster --name {{cluster}}

_kind-e2e mode:
    #!/usr/bin/env bash
    set -euo pipefail
    if [[ "{{mode}}" == delete ]]; then trap 'kind delete cluster --name {{cluster}}' EXIT; fi
    mkdir -p {{work}}
    if ! kind get clusters | grep -qx '{{cluster}}'; then
      kind create cluster --name {{cluster}} --config kind/cluster.yaml --wait 180s
    fi
    kind get kubeconfig --name {{cluster}} > {{kubeconfig}}
    just images
    for image in sidecar bridge e2e-fake-cloud; do
      kind load docker-image --name {{cluster}} mcm-grpc-driver-$image:{{tag}}
    done
    # Server-side apply: MCM's CRDs are too large for client-side apply's annotation.
    kubectl --kubeconfig {{kubeconfig}} apply --server-side --force-conflicts -k kind/overlays/e2e
    kubectl --kubeconfig {{kubeconfig}} wait --for=condition=Established --timeout=120s \
      crd/machines.machine.sapcloud.io crd/machineclasses.machine.sapcloud.io \
      crd/machinesets.machine.sapcloud.io crd/machinedeployments.machine.sapcloud.io
    # Pick up freshly loaded images when the cluster was preserved from an earlier run.
    for ns in shoot--e2e--target shoot--e2e--notarget; do
      kubectl --kubeconfig {{kubeconfig}} -n $ns rollout restart deployment/machine-controller-manager
    done
    kubectl --kubeconfig {{kubeconfig}} -n mcm-e2e-cloud rollout restart deployment/fake-cloud
    MCM_E2E_ENV=kind MCM_E2E_KUBECONFIG={{kubeconfig}} npm run test:e2e
