package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"

	"mcm-grpc-driver/bridge/pkg/supervise"
)

const (
	// sidecarReadyTimeout bounds the sidecar's start (Node loads and compiles
	// nothing at run time; it serves in about a second, far slower under a
	// tight CPU limit).
	sidecarReadyTimeout = 2 * time.Minute
	// sidecarStopGrace is how long a forwarded SIGTERM may take: the sidecar's
	// --shutdown-grace (30s) plus a little. Kubernetes' default
	// terminationGracePeriodSeconds is 30s; the kubelet's SIGKILL ends both
	// earlier if the pod sets less.
	sidecarStopGrace = 35 * time.Second
)

// startSupervisedSidecar starts the sidecar the image names in
// MCM_DRIVER_SIDECAR_COMMAND on a private socket, points b.Endpoint at it, and
// returns once it serves. From then on a goroutine ends the process: with
// ExitStopped after a forwarded SIGTERM/SIGINT, with ExitChildDied when the
// sidecar dies on its own.
func startSupervisedSidecar(command string, b *bridgeOptions, endpointSet bool) (ready func(*grpc.ClientConn) error, err error) {
	if endpointSet {
		return nil, fmt.Errorf("--driver-endpoint must not be set when %s is: the bridge gives its own sidecar a private socket", supervise.EnvCommand)
	}
	plan, err := supervise.NewPlan(command, b.CallTimeout)
	if err != nil {
		return nil, err
	}
	b.Endpoint = plan.Endpoint
	// Subscribe before the child exists: a SIGTERM in between must not kill the
	// bridge with Go's default action and leave the child to Pdeathsig alone.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	child, err := supervise.Start(plan.Argv, nil)
	if err != nil {
		_ = os.RemoveAll(plan.SocketDir)
		return nil, err
	}
	klog.Infof("Started the driver sidecar (pid %d): %v", child.Pid(), plan.Argv)
	go func() {
		code, reason := supervise.Watch(child, sigs, sidecarStopGrace)
		if code == supervise.ExitStopped {
			klog.Info(reason)
		} else {
			klog.Error(reason)
		}
		_ = os.RemoveAll(plan.SocketDir)
		logs.FlushLogs()
		os.Exit(code)
	}()
	return func(conn *grpc.ClientConn) error {
		ctx, cancel := context.WithTimeout(context.Background(), sidecarReadyTimeout)
		defer cancel()
		health := healthpb.NewHealthClient(conn)
		err := child.WaitReady(ctx, 250*time.Millisecond, func(ctx context.Context) error {
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			defer ccancel()
			res, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				return err
			}
			if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("health %s", res.GetStatus())
			}
			return nil
		})
		if err != nil {
			_ = child.Stop(5 * time.Second)
			_ = os.RemoveAll(plan.SocketDir)
			return err
		}
		klog.Infof("The driver sidecar serves on %s", plan.Endpoint)
		return nil
	}, nil
}
