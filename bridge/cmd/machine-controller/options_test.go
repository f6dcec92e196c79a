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
	fs, _, b := newFlagSet()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if b.Endpoint != "unix:///var/run/mcm-driver/driver.sock" || b.CallTimeout != 5*time.Minute {
		t.Errorf("defaults %+v", b)
	}
	if err := b.Validate(); err != nil {
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
	if err := b.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--driver-call-timeout=0s"},
		{"--driver-call-timeout=-1s"},
		{"--driver-endpoint="},
		{"--driver-endpoint=/var/run/mcm-driver/driver.sock"},
	} {
		fs, _, b := newFlagSet()
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := b.Validate(); err == nil {
			t.Errorf("%v accepted", args)
		} else if !strings.Contains(err.Error(), "--driver-") {
			t.Errorf("%v: error does not name the flag: %v", args, err)
		}
	}
}
