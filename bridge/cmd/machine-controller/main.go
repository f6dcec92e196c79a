// Command machine-controller is the MCM provider binary of mcm-grpc-driver: it
// runs machine-controller-manager's provider-side Machine controller
// (app.Run) with a driver.Driver that forwards every driver call over gRPC to
// the driver sidecar in the same pod. With MCM_DRIVER_SIDECAR_COMMAND set (the
// provider image sets it) it runs that sidecar itself, as its child: one
// container then holds both halves (package supervise).
package main

import (
	"fmt"
	"os"

	_ "github.com/gardener/machine-controller-manager/pkg/util/client/metrics/prometheus" // for client metric registration
	"github.com/gardener/machine-controller-manager/pkg/util/provider/app"
	"github.com/gardener/machine-controller-manager/pkg/util/provider/app/options"
	_ "github.com/gardener/machine-controller-manager/pkg/util/reflector/prometheus" // for reflector metric registration
	_ "github.com/gardener/machine-controller-manager/pkg/util/workqueue/prometheus" // for workqueue metric registration
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"

	"mcm-grpc-driver/bridge/pkg/grpcdriver"
	"mcm-grpc-driver/bridge/pkg/supervise"
)

func main() {
	s := options.NewMCServer()
	s.AddFlags(pflag.CommandLine)
	b := newBridgeOptions()
	b.AddFlags(pflag.CommandLine)

	flag.InitFlags()
	logs.InitLogs()

	if err := run(s, b, pflag.CommandLine.Changed("driver-endpoint")); err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		logs.FlushLogs()
		os.Exit(1)
	}
	logs.FlushLogs()
}

func run(s *options.MCServer, b *bridgeOptions, endpointSet bool) error {
	if err := b.Validate(s.SafetyOptions.MachineCreationTimeout.Duration); err != nil {
		return err
	}
	var sidecarReady func(*grpc.ClientConn) error
	if command, ok := os.LookupEnv(supervise.EnvCommand); ok {
		var err error
		if sidecarReady, err = startSupervisedSidecar(command, b, endpointSet); err != nil {
			return err
		}
	}
	conn, err := grpcdriver.NewClientConn(b.Endpoint)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if sidecarReady != nil {
		if err := sidecarReady(conn); err != nil {
			return err
		}
	}

	klog.Infof("Driver sidecar endpoint %s, call timeout %s", b.Endpoint, b.CallTimeout)
	drv := grpcdriver.New(conn, grpcdriver.Options{CallTimeout: b.CallTimeout})
	return app.Run(s, drv)
}
