package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"mcm-grpc-driver/bridge/pkg/grpcdriver"
)

const (
	// defaultEndpoint is a unix socket in a directory both containers of the
	// pod mount (an emptyDir at /var/run/mcm-driver). A socket, rather than a
	// loopback port, needs no port coordination (MCM already serves on 10259),
	// is not reachable from the pod network or by other containers that do not
	// mount the volume, and is access-controlled by file permissions.
	defaultEndpoint = "unix:///var/run/mcm-driver/driver.sock"
	// defaultCallTimeout bounds one driver call. MCM passes
	// context.Background(), so without it a hung sidecar would block one of
	// MCM's workers forever (and, in the creation flow, hold off the Machine's
	// deletion). 5m is far above what a cloud API needs to accept a create or
	// delete, and well under the 20m machine creation timeout, so a timed-out
	// call (DeadlineExceeded, which MCM retries after 5s) leaves room for
	// retries. The sidecar sees the deadline (grpc-timeout) and should finish
	// its own waiting well before it.
	defaultCallTimeout = grpcdriver.DefaultCallTimeout
)

// bridgeOptions are the flags the bridge adds to MCM's provider flags.
type bridgeOptions struct {
	Endpoint    string
	CallTimeout time.Duration
}

func newBridgeOptions() *bridgeOptions {
	return &bridgeOptions{Endpoint: defaultEndpoint, CallTimeout: defaultCallTimeout}
}

// AddFlags registers --driver-endpoint and --driver-call-timeout.
func (o *bridgeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Endpoint, "driver-endpoint", o.Endpoint,
		"gRPC endpoint of the driver sidecar: HOST:PORT (e.g. 127.0.0.1:50051) or unix:///path/to/driver.sock.")
	fs.DurationVar(&o.CallTimeout, "driver-call-timeout", o.CallTimeout,
		"Deadline of one call to the driver sidecar. A call that runs out fails with DeadlineExceeded, which MCM retries after 5s.")
}

// Validate checks the flag values against each other and against MCM's
// --machine-creation-timeout: one call must fit well inside the creation
// timeout, or a single CreateMachine could outlive the Machine's whole
// creation budget and MCM would never get to retry it.
func (o *bridgeOptions) Validate(machineCreationTimeout time.Duration) error {
	if o.CallTimeout <= 0 {
		return fmt.Errorf("--driver-call-timeout must be positive, got %s", o.CallTimeout)
	}
	if machineCreationTimeout > 0 && o.CallTimeout >= machineCreationTimeout {
		return fmt.Errorf("--driver-call-timeout (%s) must be below --machine-creation-timeout (%s): MCM retries a Machine only between calls", o.CallTimeout, machineCreationTimeout)
	}
	if err := grpcdriver.ValidateEndpoint(o.Endpoint); err != nil {
		return fmt.Errorf("--driver-endpoint: %w", err)
	}
	return nil
}
