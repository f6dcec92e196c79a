package grpcdriver

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Connection tuning for a sidecar in the same pod (loopback TCP or a unix socket).
const (
	// keepaliveTime is how long the connection may be silent, while a call is in
	// flight, before the bridge pings the sidecar. It is not below 5m, the
	// default minimum ping interval a gRPC server enforces (grpc-go answers
	// faster pings with GOAWAY "too_many_pings", which would kill a long
	// CreateMachine call). On loopback a dead peer is normally reported by the
	// kernel at once; the ping only catches a wedged connection, and the
	// per-call deadline catches a hung sidecar anyway.
	keepaliveTime = 5 * time.Minute
	// keepaliveTimeout is how long to wait for the ping's answer.
	keepaliveTimeout = 20 * time.Second
	// reconnectMaxDelay caps the reconnect backoff (grpc-go's default is 120s).
	// Reconnecting to a local socket is cheap, and a sidecar that restarts
	// should be usable again by the time MCM retries (5s for Unavailable).
	reconnectMaxDelay = 5 * time.Second
	// minConnectTimeout bounds one connection attempt.
	minConnectTimeout = 5 * time.Second
	// maxResponseBytes is the largest answer the bridge accepts. grpc-go's
	// default of 4 MiB is too small for ListMachines: its answer takes about
	// 110 bytes per VM (providerID and Machine name), so a class of some
	// 38,000 VMs failed with ResourceExhausted (bench/RESULTS.md, 50,000 VMs).
	// 64 MiB is over half a million VMs; the sidecar itself bounds what it
	// reads from the cloud (--max-cloud-response).
	maxResponseBytes = 64 << 20
)

// NewClientConn returns a lazily connecting gRPC client connection to the
// sidecar at endpoint. It does not dial: the first call does, and a call made
// while the sidecar cannot be reached fails at once with Unavailable (calls are
// not wait-for-ready), which the Driver hands to MCM as Unavailable.
//
// endpoint is either "HOST:PORT" (e.g. "127.0.0.1:50051") or a unix socket as
// "unix:///absolute/path.sock" (also "unix:relative/path.sock"). Any other
// target grpc-go understands ("dns:///...", "passthrough:///...") is passed on
// unchanged. The connection uses insecure (plaintext) credentials: it is meant
// for a sidecar in the same pod, reached over loopback or a unix socket.
func NewClientConn(endpoint string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	target, err := normaliseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                keepaliveTime,
			Timeout:             keepaliveTimeout,
			PermitWithoutStream: false,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   reconnectMaxDelay,
			},
			MinConnectTimeout: minConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)),
	}
	opts = append(opts, extra...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("driver endpoint %q: %w", endpoint, err)
	}
	return conn, nil
}

// normaliseEndpoint validates endpoint and turns it into a grpc-go target.
func normaliseEndpoint(endpoint string) (string, error) {
	endpoint = strings.TrimSpace(endpoint)
	switch {
	case endpoint == "":
		return "", fmt.Errorf("driver endpoint is empty")
	case strings.HasPrefix(endpoint, "unix://"):
		if !strings.HasPrefix(endpoint, "unix:///") {
			return "", fmt.Errorf("driver endpoint %q: a unix socket needs an absolute path, unix:///path/to/driver.sock", endpoint)
		}
		return endpoint, nil
	case strings.HasPrefix(endpoint, "unix:"), strings.Contains(endpoint, ":///"):
		return endpoint, nil
	case strings.HasPrefix(endpoint, "/"):
		return "", fmt.Errorf("driver endpoint %q: write a unix socket as unix://%s", endpoint, endpoint)
	}
	// HOST:PORT. grpc-go's default resolver (dns) resolves an IP literal
	// without any DNS query.
	if i := strings.LastIndex(endpoint, ":"); i <= 0 || i == len(endpoint)-1 {
		return "", fmt.Errorf("driver endpoint %q: want HOST:PORT or unix:///path/to/driver.sock", endpoint)
	}
	return endpoint, nil
}

// ValidateEndpoint reports whether endpoint is a form NewClientConn accepts.
func ValidateEndpoint(endpoint string) error {
	_, err := normaliseEndpoint(endpoint)
	return err
}
