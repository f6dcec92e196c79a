package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gardener/machine-controller-manager/pkg/util/provider/app/options"
	"github.com/spf13/pflag"
)

// newFlagSet registers MCM's provider flags and the bridge's on one set, as
// main does on pflag.CommandLine; a name clash would panic here.
func newFlagSet() (*pflag.FlagSet, *options.MCServer, *bridgeOptions) {
	fs := pflag.NewFlagSet("machine-controller", pflag.ContinueOnError)
	s := options.NewMCServer()
	s.AddFlags(fs)
	b := newBridgeOptions()
	b.AddFlags(fs)
	return fs, s, b
}

func TestDefaults(t *testing.T) {
	fs, s, b := newFlagSet()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if b.Endpoint != "unix:///var/run/mcm-driver/driver.sock" || b.CallTimeout != 5*time.Minute {
		t.Errorf("defaults %+v", b)
	}
	if err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestFlagsParse(t *testing.T) {
	fs, s, b := newFlagSet()
	err := fs.Parse([]string{
		"--driver-endpoint=127.0.0.1:50051", "--driver-call-timeout=90s",
		"--namespace=shoot--p--c", "--target-kubeconfig=none", "--control-kubeconfig=/tmp/kc",
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Endpoint != "127.0.0.1:50051" || b.CallTimeout != 90*time.Second {
		t.Errorf("bridge options %+v", b)
	}
	if s.Namespace != "shoot--p--c" || s.TargetKubeconfig != "none" {
		t.Errorf("MCM options not parsed: namespace %q target %q", s.Namespace, s.TargetKubeconfig)
	}
	if err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// gardenerStackitArgs are the arguments gardener-extension-provider-stackit
// gives its one provider container: machinecontrollermanager.ProviderSidecarContainer's
// (gardener/gardener pkg/component/nodemanagement/machinecontrollermanager/provider.go)
// with --machine-creation-timeout raised to 45m and --resource-exhausted-retry=30m
// added (stackitcloud/gardener-extension-provider-stackit pkg/webhook/controlplane/ensurer.go).
var gardenerStackitArgs = []string{
	"--control-kubeconfig=inClusterConfig",
	"--kube-api-qps=100",
	"--kube-api-burst=200",
	"--machine-creation-timeout=45m",
	"--machine-drain-timeout=2h",
	"--machine-health-timeout=10m",
	"--machine-safety-apiserver-statuscheck-timeout=30s",
	"--machine-safety-apiserver-statuscheck-period=1m",
	"--machine-safety-orphan-vms-period=30m",
	"--namespace=shoot--p--c",
	"--port=10259",
	"--target-kubeconfig=/var/run/secrets/gardener.cloud/shoot/generic-kubeconfig/kubeconfig",
	"--v=3",
	"--resource-exhausted-retry=30m",
}

// The single provider container gets no bridge flag at all: Gardener's
// arguments alone must parse and validate with the bridge's defaults.
func TestGardenerStackitArgs(t *testing.T) {
	fs, s, b := newFlagSet()
	if err := fs.Parse(gardenerStackitArgs); err != nil {
		t.Fatal(err)
	}
	if got := s.SafetyOptions.MachineCreationTimeout.Duration; got != 45*time.Minute {
		t.Errorf("machine creation timeout %s", got)
	}
	if err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration); err != nil {
		t.Errorf("Gardener's arguments rejected: %v", err)
	}
}

func TestCallTimeoutMustFitTheCreationTimeout(t *testing.T) {
	fs, s, b := newFlagSet()
	if err := fs.Parse([]string{"--machine-creation-timeout=20m", "--driver-call-timeout=20m"}); err != nil {
		t.Fatal(err)
	}
	err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration)
	if err == nil || !strings.Contains(err.Error(), "--driver-call-timeout") || !strings.Contains(err.Error(), "--machine-creation-timeout") {
		t.Errorf("a call deadline equal to the creation timeout: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--driver-call-timeout=0s"},
		{"--driver-call-timeout=-1s"},
		{"--driver-endpoint="},
		{"--driver-endpoint=/var/run/mcm-driver/driver.sock"},
	} {
		fs, s, b := newFlagSet()
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration); err == nil {
			t.Errorf("%v accepted", args)
		} else if !strings.Contains(err.Error(), "--driver-") {
			t.Errorf("%v: error does not name the flag: %v", args, err)
		}
	}
}
