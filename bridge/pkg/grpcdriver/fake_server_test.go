package grpcdriver_test

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	driverv1 "mcm-grpc-driver/bridge/gen/driverv1"
	"mcm-grpc-driver/bridge/pkg/grpcdriver"
)

// fakeSidecar is an in-process implementation of the generated Driver service.
// Each method records its request and, if set, runs the matching hook;
// otherwise it answers with fail (if set) or an empty response.
type fakeSidecar struct {
	driverv1.UnimplementedDriverServer

	mu   sync.Mutex
	reqs map[string]proto.Message

	// fail, if set, is returned by every method without a hook.
	fail func(ctx context.Context, method string) error

	create     func(context.Context, *driverv1.CreateMachineRequest) (*driverv1.CreateMachineResponse, error)
	initialize func(context.Context, *driverv1.InitializeMachineRequest) (*driverv1.InitializeMachineResponse, error)
	del        func(context.Context, *driverv1.DeleteMachineRequest) (*driverv1.DeleteMachineResponse, error)
	status     func(context.Context, *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error)
	list       func(context.Context, *driverv1.ListMachinesRequest) (*driverv1.ListMachinesResponse, error)
	volumes    func(context.Context, *driverv1.GetVolumeIDsRequest) (*driverv1.GetVolumeIDsResponse, error)
}

func (f *fakeSidecar) record(method string, req proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reqs == nil {
		f.reqs = map[string]proto.Message{}
	}
	f.reqs[method] = proto.Clone(req)
}

// received returns the last request of method.
func (f *fakeSidecar) received(method string) proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[method]
}

func (f *fakeSidecar) failure(ctx context.Context, method string) error {
	if f.fail == nil {
		return nil
	}
	return f.fail(ctx, method)
}

func (f *fakeSidecar) CreateMachine(ctx context.Context, req *driverv1.CreateMachineRequest) (*driverv1.CreateMachineResponse, error) {
	f.record("CreateMachine", req)
	if f.create != nil {
		return f.create(ctx, req)
	}
	if err := f.failure(ctx, "CreateMachine"); err != nil {
		return nil, err
	}
	return &driverv1.CreateMachineResponse{}, nil
}

func (f *fakeSidecar) InitializeMachine(ctx context.Context, req *driverv1.InitializeMachineRequest) (*driverv1.InitializeMachineResponse, error) {
	f.record("InitializeMachine", req)
	if f.initialize != nil {
		return f.initialize(ctx, req)
	}
	if err := f.failure(ctx, "InitializeMachine"); err != nil {
		return nil, err
	}
	return &driverv1.InitializeMachineResponse{}, nil
}

func (f *fakeSidecar) DeleteMachine(ctx context.Context, req *driverv1.DeleteMachineRequest) (*driverv1.DeleteMachineResponse, error) {
	f.record("DeleteMachine", req)
	if f.del != nil {
		return f.del(ctx, req)
	}
	if err := f.failure(ctx, "DeleteMachine"); err != nil {
		return nil, err
	}
	return &driverv1.DeleteMachineResponse{}, nil
}

func (f *fakeSidecar) GetMachineStatus(ctx context.Context, req *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
	f.record("GetMachineStatus", req)
	if f.status != nil {
		return f.status(ctx, req)
	}
	if err := f.failure(ctx, "GetMachineStatus"); err != nil {
		return nil, err
	}
	return &driverv1.GetMachineStatusResponse{}, nil
}

func (f *fakeSidecar) ListMachines(ctx context.Context, req *driverv1.ListMachinesRequest) (*driverv1.ListMachinesResponse, error) {
	f.record("ListMachines", req)
	if f.list != nil {
		return f.list(ctx, req)
	}
	if err := f.failure(ctx, "ListMachines"); err != nil {
		return nil, err
	}
	return &driverv1.ListMachinesResponse{}, nil
}

func (f *fakeSidecar) GetVolumeIDs(ctx context.Context, req *driverv1.GetVolumeIDsRequest) (*driverv1.GetVolumeIDsResponse, error) {
	f.record("GetVolumeIDs", req)
	if f.volumes != nil {
		return f.volumes(ctx, req)
	}
	if err := f.failure(ctx, "GetVolumeIDs"); err != nil {
		return nil, err
	}
	return &driverv1.GetVolumeIDsResponse{}, nil
}

// serve runs f on lis until the test ends.
func serve(t *testing.T, f *fakeSidecar, lis net.Listener) {
	t.Helper()
	srv := grpc.NewServer()
	driverv1.RegisterDriverServer(srv, f)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
}

// startTCP serves f on 127.0.0.1 and returns the endpoint "127.0.0.1:PORT".
func startTCP(t *testing.T, f *fakeSidecar) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	serve(t, f, lis)
	return lis.Addr().String()
}

// socketPath returns a fresh unix socket path in a temp dir.
func socketPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "driver.sock")
}

// startUnix serves f on the unix socket path and returns "unix://"+path.
func startUnix(t *testing.T, f *fakeSidecar, path string) string {
	t.Helper()
	lis, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen unix: %v", err)
	}
	serve(t, f, lis)
	return "unix://" + path
}

// newDriver connects a Driver to endpoint.
func newDriver(t *testing.T, endpoint string, timeout time.Duration) *grpcdriver.Driver {
	t.Helper()
	conn, err := grpcdriver.NewClientConn(endpoint)
	if err != nil {
		t.Fatalf("NewClientConn(%q): %v", endpoint, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return grpcdriver.New(conn, grpcdriver.Options{CallTimeout: timeout})
}

// errWithResponse is how the sidecar fails a call while handing MCM data:
// a google.rpc.Status with the response packed as Any in its details.
func errWithResponse(t *testing.T, code uint32, msg string, resp proto.Message) error {
	t.Helper()
	// May run in a server goroutine: report with Errorf, never Fatalf.
	a, err := anypb.New(resp)
	if err != nil {
		t.Errorf("anypb.New: %v", err)
	}
	return grpcstatus.ErrorProto(&spb.Status{Code: int32(code), Message: msg, Details: []*anypb.Any{a}})
}

// errWithRawTrailer fails the call the way a non-Go sidecar (grpc-js) does it:
// grpc-status/grpc-message plus a hand-made grpc-status-details-bin trailer
// holding the serialised google.rpc.Status.
func errWithRawTrailer(t *testing.T, ctx context.Context, code uint32, detailsCode int32, msg string, resp proto.Message) error {
	t.Helper()
	// Runs in a server goroutine: report with Errorf, never Fatalf.
	a, err := anypb.New(resp)
	if err != nil {
		t.Errorf("anypb.New: %v", err)
	}
	b, err := proto.Marshal(&spb.Status{Code: detailsCode, Message: msg, Details: []*anypb.Any{a}})
	if err != nil {
		t.Errorf("marshal status: %v", err)
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", string(b))); err != nil {
		t.Errorf("SetTrailer: %v", err)
	}
	return grpcstatus.Error(codes.Code(code), msg)
}
