package grpcdriver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gardener/machine-controller-manager/pkg/apis/machine/v1alpha1"
	"github.com/gardener/machine-controller-manager/pkg/util/provider/driver"
	mcmcodes "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/codes"
	mcmstatus "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	driverv1 "mcm-grpc-driver/bridge/gen/driverv1"
	"mcm-grpc-driver/bridge/pkg/grpcdriver"
)

const testTimeout = 10 * time.Second

// providerSpecJSON is compact JSON with key order, number spellings, HTML
// characters and non-ASCII text that a careless re-encoding would change.
const providerSpecJSON = `{"zeta":1,"alpha":"a<b>&c","nested":{"n":[1.50,1e3,-0]},"text":"grüße €","empty":{}}`

func sampleMachine() *v1alpha1.Machine {
	return &v1alpha1.Machine{
		// TypeMeta deliberately empty, as in MCM's informer cache.
		ObjectMeta: metav1.ObjectMeta{
			Name:        "shoot--p--c-worker-z1-abcde",
			Namespace:   "shoot--p--c",
			UID:         "3f0c1f0e-0000-4000-8000-000000000001",
			Labels:      map[string]string{"node": "shoot--p--c-worker-z1-abcde", "name": "worker"},
			Annotations: map[string]string{"machinepriority.machine.sapcloud.io": "3"},
		},
		Spec: v1alpha1.MachineSpec{
			Class:      v1alpha1.ClassSpec{Kind: "MachineClass", Name: "worker-z1"},
			ProviderID: "stackit://project-1/server-1",
		},
		Status: v1alpha1.MachineStatus{
			LastKnownState: "opaque-state",
			CurrentStatus:  v1alpha1.CurrentStatus{Phase: v1alpha1.MachineCrashLoopBackOff},
		},
	}
}

func sampleClass() *v1alpha1.MachineClass {
	return &v1alpha1.MachineClass{
		ObjectMeta:   metav1.ObjectMeta{Name: "worker-z1", Namespace: "shoot--p--c"},
		ProviderSpec: runtime.RawExtension{Raw: []byte(providerSpecJSON)},
		Provider:     "STACKIT",
		SecretRef:    &corev1.SecretReference{Name: "cloudprovider", Namespace: "shoot--p--c"},
	}
}

func sampleSecret() *corev1.Secret {
	return &corev1.Secret{Data: map[string][]byte{
		"userData":          []byte("#!/bin/bash\necho <<MACHINE_NAME>> [x]\n"),
		"serviceAccountKey": {0x00, 0xff, 0x7f, 0x80, '{', '"'},
		"empty":             {},
	}}
}

// call invokes method on d with sample requests and returns its response
// (as any, a typed nil pointer when the driver returned nil) and error.
func call(ctx context.Context, d *grpcdriver.Driver, method string) (any, error) {
	m, c, s := sampleMachine(), sampleClass(), sampleSecret()
	switch method {
	case "CreateMachine":
		return d.CreateMachine(ctx, &driver.CreateMachineRequest{Machine: m, MachineClass: c, Secret: s})
	case "InitializeMachine":
		return d.InitializeMachine(ctx, &driver.InitializeMachineRequest{Machine: m, MachineClass: c, Secret: s})
	case "DeleteMachine":
		return d.DeleteMachine(ctx, &driver.DeleteMachineRequest{Machine: m, MachineClass: c, Secret: s})
	case "GetMachineStatus":
		return d.GetMachineStatus(ctx, &driver.GetMachineStatusRequest{Machine: m, MachineClass: c, Secret: s})
	case "ListMachines":
		return d.ListMachines(ctx, &driver.ListMachinesRequest{MachineClass: c, Secret: s})
	case "GetVolumeIDs":
		return d.GetVolumeIDs(ctx, &driver.GetVolumeIDsRequest{PVSpecs: []*corev1.PersistentVolumeSpec{{}}})
	}
	panic("unknown method " + method)
}

var methods = []string{"CreateMachine", "InitializeMachine", "DeleteMachine", "GetMachineStatus", "ListMachines", "GetVolumeIDs"}

// isNil reports whether a response returned through call is a nil pointer.
func isNil(resp any) bool {
	return resp == nil || reflect.ValueOf(resp).IsNil()
}

// mcmCode decodes err exactly the way MCM does: by parsing err.Error().
func mcmCode(t *testing.T, err error) (mcmcodes.Code, string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an error, got nil")
	}
	st, ok := mcmstatus.FromError(err)
	if !ok {
		t.Fatalf("MCM cannot decode %q", err.Error())
	}
	return st.Code(), st.Message()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// wantNames are MCM's code names; 1..16 are also grpc-go's.
var wantNames = map[uint32]string{
	1: "Canceled", 2: "Unknown", 3: "InvalidArgument", 4: "DeadlineExceeded", 5: "NotFound",
	6: "AlreadyExists", 7: "PermissionDenied", 8: "ResourceExhausted", 9: "FailedPrecondition",
	10: "Aborted", 11: "OutOfRange", 12: "Unimplemented", 13: "Internal", 14: "Unavailable",
	15: "DataLoss", 16: "Unauthenticated", 17: "Uninitialized",
}

func TestEveryCodeRoundTripsThroughMCMParser(t *testing.T) {
	var code uint32
	f := &fakeSidecar{fail: func(_ context.Context, method string) error {
		return grpcstatus.Error(codes.Code(code), fmt.Sprintf("%s failed with %d", method, code))
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)

	for code = 1; code <= 17; code++ {
		if code <= 16 && codes.Code(code).String() != wantNames[code] {
			t.Fatalf("gRPC name of %d is %s, MCM's is %s", code, codes.Code(code), wantNames[code])
		}
		for _, method := range methods {
			_, err := call(ctx, d, method)
			got, msg := mcmCode(t, err)
			if uint32(got) != code || got.String() != wantNames[code] {
				t.Errorf("%s: sidecar code %d came out as %d (%s), want %s", method, code, got, got, wantNames[code])
			}
			if want := fmt.Sprintf("%s failed with %d", method, code); msg != want {
				t.Errorf("%s code %d: message %q, want %q", method, code, msg, want)
			}
			want := fmt.Sprintf("machine codes error: code = [%s] message = [%s failed with %d]", wantNames[code], method, code)
			if err.Error() != want {
				t.Errorf("%s code %d: error text %q, want %q", method, code, err.Error(), want)
			}
		}
	}
}

func TestUndefinedCodeBecomesUnknown(t *testing.T) {
	for _, code := range []uint32{18, 99} {
		f := &fakeSidecar{fail: func(context.Context, string) error {
			return grpcstatus.Error(codes.Code(code), "odd")
		}}
		d := newDriver(t, startTCP(t, f), testTimeout)
		_, err := call(testContext(t), d, "CreateMachine")
		got, msg := mcmCode(t, err)
		if got != mcmcodes.Unknown || !strings.Contains(msg, fmt.Sprintf("undefined code %d: odd", code)) {
			t.Errorf("code %d: got %s %q, want Unknown mentioning the code", code, got, msg)
		}
	}
}

func TestBracketsAreReplaced(t *testing.T) {
	const sent = "quota [project x] exceeded ]] [[ left open [ dial [::1]:50051"
	const want = "quota (project x) exceeded )) (( left open ( dial (::1):50051"
	f := &fakeSidecar{fail: func(context.Context, string) error {
		return grpcstatus.Error(codes.ResourceExhausted, sent)
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	for _, method := range methods {
		_, err := call(testContext(t), d, method)
		got, msg := mcmCode(t, err)
		if got != mcmcodes.ResourceExhausted || msg != want {
			t.Errorf("%s: got %s %q, want ResourceExhausted %q", method, got, msg, want)
		}
	}
	// Without the replacement MCM would not read the message back intact.
	if st, ok := mcmstatus.FromError(mcmstatus.Error(mcmcodes.ResourceExhausted, sent)); ok && st.Message() == sent {
		t.Errorf("test message unexpectedly survives MCM's parser without replacement")
	}
}

func TestGetMachineStatusUninitializedCarriesResponse(t *testing.T) {
	details := &driverv1.GetMachineStatusResponse{
		ProviderId: "stackit://project-1/server-1",
		NodeName:   "shoot--p--c-worker-z1-abcde",
		Addresses: []*driverv1.NodeAddress{
			{Type: "InternalIP", Address: "10.0.0.5"},
			{Type: "Hostname", Address: "shoot--p--c-worker-z1-abcde"},
		},
	}
	wantAddrs := []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: "10.0.0.5"},
		{Type: corev1.NodeHostName, Address: "shoot--p--c-worker-z1-abcde"},
	}
	cases := map[string]func(t *testing.T) *fakeSidecar{
		"grpc-go details": func(t *testing.T) *fakeSidecar {
			return &fakeSidecar{status: func(context.Context, *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
				return nil, errWithResponse(t, 17, "not initialized", details)
			}}
		},
		"hand-made trailer like grpc-js": func(t *testing.T) *fakeSidecar {
			return &fakeSidecar{status: func(ctx context.Context, _ *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
				return nil, errWithRawTrailer(t, ctx, 17, 17, "not initialized", details)
			}}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, startTCP(t, mk(t)), testTimeout)
			resp, err := d.GetMachineStatus(testContext(t), &driver.GetMachineStatusRequest{
				Machine: sampleMachine(), MachineClass: sampleClass(), Secret: sampleSecret(),
			})
			if got, msg := mcmCode(t, err); got != mcmcodes.Uninitialized || msg != "not initialized" {
				t.Fatalf("got %s %q, want Uninitialized", got, msg)
			}
			if resp == nil {
				t.Fatalf("nil response with Uninitialized")
			}
			if resp.ProviderID != details.ProviderId || resp.NodeName != details.NodeName || !reflect.DeepEqual(resp.Addresses, wantAddrs) {
				t.Errorf("response %+v, want %+v", resp, details)
			}
		})
	}
}

func TestGetMachineStatusUninitializedWithoutDetailsIsNonNil(t *testing.T) {
	f := &fakeSidecar{fail: func(context.Context, string) error {
		return grpcstatus.Error(codes.Code(17), "not initialized")
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	resp, err := call(testContext(t), d, "GetMachineStatus")
	if got, _ := mcmCode(t, err); got != mcmcodes.Uninitialized {
		t.Fatalf("got %s, want Uninitialized", got)
	}
	r := resp.(*driver.GetMachineStatusResponse)
	if r == nil {
		t.Fatalf("nil response with Uninitialized would panic MCM")
	}
	if r.ProviderID != "" || r.NodeName != "" || r.Addresses == nil {
		t.Errorf("want an empty response with non-nil Addresses, got %+v", r)
	}
}

func TestOtherErrorsWithoutDetailsGiveNilResponse(t *testing.T) {
	f := &fakeSidecar{fail: func(context.Context, string) error {
		return grpcstatus.Error(codes.NotFound, "no such VM")
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	for _, method := range methods {
		resp, err := call(testContext(t), d, method)
		if got, _ := mcmCode(t, err); got != mcmcodes.NotFound {
			t.Errorf("%s: got %s, want NotFound", method, got)
		}
		if !isNil(resp) {
			t.Errorf("%s: want nil response without details, got %+v", method, resp)
		}
	}
}

func TestCreateMachineErrorCarriesLastKnownState(t *testing.T) {
	details := &driverv1.CreateMachineResponse{
		ProviderId:     "stackit://project-1/server-1",
		LastKnownState: "server-1 creating, volume vol-1 attached",
	}
	for _, code := range []uint32{uint32(codes.ResourceExhausted), uint32(codes.Unavailable), uint32(codes.Internal)} {
		f := &fakeSidecar{create: func(context.Context, *driverv1.CreateMachineRequest) (*driverv1.CreateMachineResponse, error) {
			return nil, errWithResponse(t, code, "create failed", details)
		}}
		d := newDriver(t, startTCP(t, f), testTimeout)
		resp, err := call(testContext(t), d, "CreateMachine")
		if got, _ := mcmCode(t, err); uint32(got) != code {
			t.Errorf("got %s, want %s", got, wantNames[code])
		}
		r := resp.(*driver.CreateMachineResponse)
		if r == nil || r.LastKnownState != details.LastKnownState || r.ProviderID != details.ProviderId {
			t.Errorf("code %d: response %+v, want LastKnownState %q", code, r, details.LastKnownState)
		}
	}
}

func TestDeleteMachineErrorCarriesLastKnownState(t *testing.T) {
	details := &driverv1.DeleteMachineResponse{LastKnownState: "nic-1 still attached"}
	cases := map[string]func(ctx context.Context) error{
		"grpc-go details": func(context.Context) error {
			return errWithResponse(t, uint32(codes.Aborted), "delete failed", details)
		},
		"hand-made trailer like grpc-js": func(ctx context.Context) error {
			return errWithRawTrailer(t, ctx, uint32(codes.Aborted), int32(codes.Aborted), "delete failed", details)
		},
	}
	for name, fail := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeSidecar{del: func(ctx context.Context, _ *driverv1.DeleteMachineRequest) (*driverv1.DeleteMachineResponse, error) {
				return nil, fail(ctx)
			}}
			d := newDriver(t, startTCP(t, f), testTimeout)
			resp, err := call(testContext(t), d, "DeleteMachine")
			if got, msg := mcmCode(t, err); got != mcmcodes.Aborted || msg != "delete failed" {
				t.Errorf("got %s %q, want Aborted", got, msg)
			}
			r := resp.(*driver.DeleteMachineResponse)
			if r == nil || r.LastKnownState != details.LastKnownState {
				t.Errorf("response %+v, want LastKnownState %q", r, details.LastKnownState)
			}
		})
	}
}

func TestDetailsOfAnotherTypeAreIgnored(t *testing.T) {
	f := &fakeSidecar{create: func(context.Context, *driverv1.CreateMachineRequest) (*driverv1.CreateMachineResponse, error) {
		return nil, errWithResponse(t, uint32(codes.Internal), "boom", &driverv1.DeleteMachineResponse{LastKnownState: "x"})
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	resp, err := call(testContext(t), d, "CreateMachine")
	if got, _ := mcmCode(t, err); got != mcmcodes.Internal {
		t.Errorf("got %s, want Internal", got)
	}
	if !isNil(resp) {
		t.Errorf("want nil response, got %+v", resp)
	}
}

// grpc-go (transport) replaces a status whose details code differs from
// grpc-status by Internal: the sidecar must set both to the same code.
func TestDetailsCodeMismatchBecomesInternal(t *testing.T) {
	f := &fakeSidecar{status: func(ctx context.Context, _ *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
		return nil, errWithRawTrailer(t, ctx, 17, 5, "not initialized", &driverv1.GetMachineStatusResponse{ProviderId: "p"})
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	resp, err := call(testContext(t), d, "GetMachineStatus")
	if got, msg := mcmCode(t, err); got != mcmcodes.Internal || !strings.Contains(msg, "mismatch") {
		t.Errorf("got %s %q, want Internal about the mismatch", got, msg)
	}
	if !isNil(resp) {
		t.Errorf("want nil response, got %+v", resp)
	}
}

func TestSuccessResponsesAreNeverNil(t *testing.T) {
	f := &fakeSidecar{} // every method answers with an empty message
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)
	for _, method := range methods {
		resp, err := call(ctx, d, method)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if isNil(resp) {
			t.Fatalf("%s: nil response on success", method)
		}
		switch r := resp.(type) {
		case *driver.CreateMachineResponse:
			if r.Addresses == nil {
				t.Errorf("CreateMachine: nil Addresses")
			}
		case *driver.InitializeMachineResponse:
			if r.Addresses == nil {
				t.Errorf("InitializeMachine: nil Addresses")
			}
		case *driver.GetMachineStatusResponse:
			if r.Addresses == nil {
				t.Errorf("GetMachineStatus: nil Addresses")
			}
		case *driver.ListMachinesResponse:
			if r.MachineList == nil || len(r.MachineList) != 0 {
				t.Errorf("ListMachines: want empty non-nil map, got %#v", r.MachineList)
			}
		case *driver.GetVolumeIDsResponse:
			if r.VolumeIDs == nil || len(r.VolumeIDs) != 0 {
				t.Errorf("GetVolumeIDs: want empty non-nil slice, got %#v", r.VolumeIDs)
			}
		}
	}
}

func TestSuccessResponsesAreConverted(t *testing.T) {
	addrs := []*driverv1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.5"}, {Type: "ExternalIP", Address: "192.0.2.1"}}
	wantAddrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeExternalIP, Address: "192.0.2.1"}}
	f := &fakeSidecar{
		create: func(context.Context, *driverv1.CreateMachineRequest) (*driverv1.CreateMachineResponse, error) {
			return &driverv1.CreateMachineResponse{ProviderId: "p1", NodeName: "n1", LastKnownState: "s1", Addresses: addrs}, nil
		},
		initialize: func(context.Context, *driverv1.InitializeMachineRequest) (*driverv1.InitializeMachineResponse, error) {
			return &driverv1.InitializeMachineResponse{ProviderId: "p1", NodeName: "n1", Addresses: addrs}, nil
		},
		del: func(context.Context, *driverv1.DeleteMachineRequest) (*driverv1.DeleteMachineResponse, error) {
			return &driverv1.DeleteMachineResponse{LastKnownState: "gone"}, nil
		},
		status: func(context.Context, *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
			return &driverv1.GetMachineStatusResponse{ProviderId: "p1", NodeName: "n1", Addresses: addrs}, nil
		},
		list: func(context.Context, *driverv1.ListMachinesRequest) (*driverv1.ListMachinesResponse, error) {
			return &driverv1.ListMachinesResponse{MachineList: map[string]string{"stackit://p/s1": "m1", "stackit://p/s2": "m2"}}, nil
		},
		volumes: func(context.Context, *driverv1.GetVolumeIDsRequest) (*driverv1.GetVolumeIDsResponse, error) {
			return &driverv1.GetVolumeIDsResponse{VolumeIds: []string{"vol-1"}}, nil
		},
	}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)
	want := map[string]any{
		"CreateMachine":     &driver.CreateMachineResponse{ProviderID: "p1", NodeName: "n1", LastKnownState: "s1", Addresses: wantAddrs},
		"InitializeMachine": &driver.InitializeMachineResponse{ProviderID: "p1", NodeName: "n1", Addresses: wantAddrs},
		"DeleteMachine":     &driver.DeleteMachineResponse{LastKnownState: "gone"},
		"GetMachineStatus":  &driver.GetMachineStatusResponse{ProviderID: "p1", NodeName: "n1", Addresses: wantAddrs},
		"ListMachines":      &driver.ListMachinesResponse{MachineList: map[string]string{"stackit://p/s1": "m1", "stackit://p/s2": "m2"}},
		"GetVolumeIDs":      &driver.GetVolumeIDsResponse{VolumeIDs: []string{"vol-1"}},
	}
	for _, method := range methods {
		resp, err := call(ctx, d, method)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		if !reflect.DeepEqual(resp, want[method]) {
			t.Errorf("%s: got %+v, want %+v", method, resp, want[method])
		}
	}
}

// machineRequest is what the four Machine-level requests have in common.
type machineRequest interface {
	GetMachine() []byte
	GetMachineClass() []byte
	GetSecretData() map[string][]byte
}

func checkClassJSON(t *testing.T, method string, got []byte) {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(got, &fields); err != nil {
		t.Fatalf("%s: machine_class is not JSON: %v", method, err)
	}
	if string(fields["providerSpec"]) != providerSpecJSON {
		t.Errorf("%s: providerSpec changed in transit:\n got %s\nwant %s", method, fields["providerSpec"], providerSpecJSON)
	}
	var class v1alpha1.MachineClass
	if err := json.Unmarshal(got, &class); err != nil {
		t.Fatalf("%s: machine_class does not decode: %v", method, err)
	}
	if want := sampleClass(); !reflect.DeepEqual(&class, want) {
		t.Errorf("%s: MachineClass round trip:\n got %+v\nwant %+v", method, &class, want)
	}
}

func checkSecret(t *testing.T, method string, got map[string][]byte) {
	t.Helper()
	want := sampleSecret().Data
	if len(got) != len(want) {
		t.Errorf("%s: secret_data has keys %v, want %d keys", method, keys(got), len(want))
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || !bytes.Equal(g, v) {
			t.Errorf("%s: secret_data[%q] = %q (present %v), want %q", method, k, g, ok, v)
		}
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRequestsAreSerialised(t *testing.T) {
	f := &fakeSidecar{}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)
	for _, method := range methods[:4] {
		if _, err := call(ctx, d, method); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		req := f.received(method).(machineRequest)

		var m v1alpha1.Machine
		if err := json.Unmarshal(req.GetMachine(), &m); err != nil {
			t.Fatalf("%s: machine is not JSON: %v", method, err)
		}
		if want := sampleMachine(); !reflect.DeepEqual(&m, want) {
			t.Errorf("%s: Machine round trip:\n got %+v\nwant %+v", method, &m, want)
		}
		if !bytes.Contains(req.GetMachine(), []byte(`"providerID":"stackit://project-1/server-1"`)) {
			t.Errorf("%s: machine JSON lacks spec.providerID: %s", method, req.GetMachine())
		}
		checkClassJSON(t, method, req.GetMachineClass())
		checkSecret(t, method, req.GetSecretData())
	}

	if _, err := call(ctx, d, "ListMachines"); err != nil {
		t.Fatalf("ListMachines: %v", err)
	}
	list := f.received("ListMachines").(*driverv1.ListMachinesRequest)
	checkClassJSON(t, "ListMachines", list.GetMachineClass())
	checkSecret(t, "ListMachines", list.GetSecretData())
}

func TestNilSecretSendsEmptyData(t *testing.T) {
	f := &fakeSidecar{}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)
	if _, err := d.CreateMachine(ctx, &driver.CreateMachineRequest{Machine: sampleMachine(), MachineClass: sampleClass()}); err != nil {
		t.Fatal(err)
	}
	if got := f.received("CreateMachine").(*driverv1.CreateMachineRequest).GetSecretData(); len(got) != 0 {
		t.Errorf("want empty secret_data, got %v", keys(got))
	}
	if _, err := d.ListMachines(ctx, &driver.ListMachinesRequest{MachineClass: sampleClass()}); err != nil {
		t.Fatal(err)
	}
	if got := f.received("ListMachines").(*driverv1.ListMachinesRequest).GetSecretData(); len(got) != 0 {
		t.Errorf("want empty secret_data, got %v", keys(got))
	}
}

func TestOrphanStubMachineIsSerialised(t *testing.T) {
	// The stub MCM's orphan collection sends to DeleteMachine.
	stub := &v1alpha1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: "gone-machine", Namespace: "shoot--p--c"},
		Spec:       v1alpha1.MachineSpec{ProviderID: "stackit://project-1/server-9"},
	}
	f := &fakeSidecar{}
	d := newDriver(t, startTCP(t, f), testTimeout)
	if _, err := d.DeleteMachine(testContext(t), &driver.DeleteMachineRequest{
		Machine: stub, MachineClass: sampleClass(), Secret: &corev1.Secret{Data: sampleSecret().Data},
	}); err != nil {
		t.Fatal(err)
	}
	var m v1alpha1.Machine
	if err := json.Unmarshal(f.received("DeleteMachine").(*driverv1.DeleteMachineRequest).GetMachine(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != stub.Name || m.Namespace != stub.Namespace || m.Spec.ProviderID != stub.Spec.ProviderID {
		t.Errorf("stub arrived as %+v", m)
	}
}

func TestPVSpecsAreSerialised(t *testing.T) {
	f := &fakeSidecar{volumes: func(_ context.Context, req *driverv1.GetVolumeIDsRequest) (*driverv1.GetVolumeIDsResponse, error) {
		ids := []string{}
		for _, raw := range req.GetPvSpecs() {
			var spec corev1.PersistentVolumeSpec
			if err := json.Unmarshal(raw, &spec); err != nil {
				return nil, grpcstatus.Error(codes.InvalidArgument, err.Error())
			}
			if spec.CSI != nil {
				ids = append(ids, spec.CSI.VolumeHandle)
			}
		}
		return &driverv1.GetVolumeIDsResponse{VolumeIds: ids}, nil
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	spec := &corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
			Driver: "block-storage.csi.stackit.cloud", VolumeHandle: "vol-1234",
		}},
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
	}
	resp, err := d.GetVolumeIDs(testContext(t), &driver.GetVolumeIDsRequest{PVSpecs: []*corev1.PersistentVolumeSpec{spec, nil}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resp.VolumeIDs, []string{"vol-1234"}) {
		t.Errorf("VolumeIDs %v", resp.VolumeIDs)
	}
	got := f.received("GetVolumeIDs").(*driverv1.GetVolumeIDsRequest).GetPvSpecs()
	if len(got) != 2 || string(got[1]) != "{}" {
		t.Fatalf("pv_specs %q", got)
	}
	var back corev1.PersistentVolumeSpec
	if err := json.Unmarshal(got[0], &back); err != nil || !reflect.DeepEqual(&back, spec) {
		t.Errorf("PV spec round trip: %+v (%v)", back, err)
	}
}

func TestMissingMachineOrClassIsInvalidArgument(t *testing.T) {
	f := &fakeSidecar{}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx := testContext(t)
	_, err := d.CreateMachine(ctx, &driver.CreateMachineRequest{MachineClass: sampleClass()})
	if got, _ := mcmCode(t, err); got != mcmcodes.InvalidArgument {
		t.Errorf("no Machine: got %s", got)
	}
	_, err = d.GetMachineStatus(ctx, &driver.GetMachineStatusRequest{Machine: sampleMachine()})
	if got, _ := mcmCode(t, err); got != mcmcodes.InvalidArgument {
		t.Errorf("no MachineClass: got %s", got)
	}
	_, err = d.ListMachines(ctx, &driver.ListMachinesRequest{})
	if got, _ := mcmCode(t, err); got != mcmcodes.InvalidArgument {
		t.Errorf("ListMachines without class: got %s", got)
	}
	if f.received("CreateMachine") != nil || f.received("GetMachineStatus") != nil || f.received("ListMachines") != nil {
		t.Errorf("sidecar was called for an invalid request")
	}
}

func TestSidecarDownIsUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := lis.Addr().String()
	_ = lis.Close()

	for name, endpoint := range map[string]string{
		"tcp":  closedPort,
		"unix": "unix://" + socketPath(t), // nothing listens there
	} {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, endpoint, testTimeout)
			for _, method := range methods {
				start := time.Now()
				resp, err := call(testContext(t), d, method)
				got, msg := mcmCode(t, err)
				if got != mcmcodes.Unavailable {
					t.Errorf("%s: got %s %q, want Unavailable", method, got, msg)
				}
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("%s: took %s to fail", method, elapsed)
				}
				if !isNil(resp) {
					t.Errorf("%s: want nil response, got %+v", method, resp)
				}
			}
		})
	}
}

func TestSidecarHangingPastDeadlineIsDeadlineExceeded(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var deadlineSeen atomic.Int64 // time.Duration the sidecar had left
	f := &fakeSidecar{fail: func(ctx context.Context, _ string) error {
		if dl, ok := ctx.Deadline(); ok {
			deadlineSeen.Store(int64(time.Until(dl)))
		}
		<-release // a wedged sidecar: ignores its deadline
		return grpcstatus.Error(codes.Internal, "should not be seen")
	}}
	const timeout = 300 * time.Millisecond
	d := newDriver(t, startTCP(t, f), timeout)
	for _, method := range methods {
		start := time.Now()
		_, err := call(context.Background(), d, method)
		elapsed := time.Since(start)
		got, msg := mcmCode(t, err)
		if got != mcmcodes.DeadlineExceeded || !strings.Contains(msg, "bridge call timeout 300ms") {
			t.Errorf("%s: got %s %q, want DeadlineExceeded naming the timeout", method, got, msg)
		}
		if elapsed < timeout || elapsed > timeout+3*time.Second {
			t.Errorf("%s: returned after %s, timeout %s", method, elapsed, timeout)
		}
	}
	if seen := time.Duration(deadlineSeen.Load()); seen <= 0 || seen > timeout {
		t.Errorf("sidecar saw deadline %s, want (0, %s]", seen, timeout)
	}
}

func TestSidecarDeadlineExceededKeepsItsMessage(t *testing.T) {
	f := &fakeSidecar{fail: func(context.Context, string) error {
		return grpcstatus.Error(codes.DeadlineExceeded, "cloud API did not answer")
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	_, err := call(testContext(t), d, "DeleteMachine")
	if got, msg := mcmCode(t, err); got != mcmcodes.DeadlineExceeded || msg != "cloud API did not answer" {
		t.Errorf("got %s %q", got, msg)
	}
}

func TestCanceledCallerContextIsCanceled(t *testing.T) {
	f := &fakeSidecar{fail: func(ctx context.Context, _ string) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := call(ctx, d, "CreateMachine")
	if got, _ := mcmCode(t, err); got != mcmcodes.Canceled {
		t.Errorf("got %s, want Canceled", got)
	}
}

func TestUnixSocketEndpoint(t *testing.T) {
	f := &fakeSidecar{list: func(context.Context, *driverv1.ListMachinesRequest) (*driverv1.ListMachinesResponse, error) {
		return &driverv1.ListMachinesResponse{MachineList: map[string]string{"stackit://p/s1": "m1"}}, nil
	}}
	d := newDriver(t, startUnix(t, f, socketPath(t)), testTimeout)
	resp, err := d.ListMachines(testContext(t), &driver.ListMachinesRequest{MachineClass: sampleClass(), Secret: sampleSecret()})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(resp.MachineList, map[string]string{"stackit://p/s1": "m1"}) {
		t.Errorf("MachineList %v", resp.MachineList)
	}
	checkSecret(t, "ListMachines", f.received("ListMachines").(*driverv1.ListMachinesRequest).GetSecretData())
}

func TestReconnectsWhenSidecarComesUp(t *testing.T) {
	path := socketPath(t)
	d := newDriver(t, "unix://"+path, testTimeout)
	if _, err := call(testContext(t), d, "ListMachines"); err == nil {
		t.Fatalf("call succeeded without a sidecar")
	} else if got, _ := mcmCode(t, err); got != mcmcodes.Unavailable {
		t.Fatalf("got %s, want Unavailable", got)
	}

	startUnix(t, &fakeSidecar{}, path)
	deadline := time.Now().Add(8 * time.Second) // > reconnect backoff cap (5s)
	for {
		_, err := call(testContext(t), d, "ListMachines")
		if err == nil {
			return
		}
		if got, _ := mcmCode(t, err); got != mcmcodes.Unavailable {
			t.Fatalf("got %s while reconnecting, want Unavailable", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after the sidecar came up: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestConcurrentCalls(t *testing.T) {
	f := &fakeSidecar{status: func(_ context.Context, req *driverv1.GetMachineStatusRequest) (*driverv1.GetMachineStatusResponse, error) {
		var m v1alpha1.Machine
		if err := json.Unmarshal(req.GetMachine(), &m); err != nil {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
		return &driverv1.GetMachineStatusResponse{ProviderId: "p/" + m.Name, NodeName: m.Name}, nil
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	errs := make(chan error, 50)
	for i := range 50 {
		go func() {
			m := sampleMachine()
			m.Name = fmt.Sprintf("machine-%02d", i)
			resp, err := d.GetMachineStatus(context.Background(), &driver.GetMachineStatusRequest{Machine: m, MachineClass: sampleClass()})
			if err == nil && (resp.NodeName != m.Name || resp.ProviderID != "p/"+m.Name) {
				err = fmt.Errorf("machine %s got %+v", m.Name, resp)
			}
			errs <- err
		}()
	}
	for range 50 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A class with tens of thousands of VMs gives a ListMachines answer above
// grpc-go's default 4 MiB receive limit; the bridge must still take it.
func TestLargeListMachinesAnswer(t *testing.T) {
	const vms = 60_000
	list := make(map[string]string, vms)
	for i := range vms {
		list[fmt.Sprintf("stackit://3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b/00000000-0000-4000-8000-%012d", i)] = fmt.Sprintf("shoot--p--c-worker-z1-%06d", i)
	}
	if size := proto.Size(&driverv1.ListMachinesResponse{MachineList: list}); size <= 4<<20 {
		t.Fatalf("the answer is %d bytes, not above 4 MiB", size)
	}
	f := &fakeSidecar{list: func(context.Context, *driverv1.ListMachinesRequest) (*driverv1.ListMachinesResponse, error) {
		return &driverv1.ListMachinesResponse{MachineList: list}, nil
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	resp, err := d.ListMachines(context.Background(), &driver.ListMachinesRequest{MachineClass: sampleClass(), Secret: sampleSecret()})
	if err != nil {
		t.Fatalf("ListMachines: %v", err)
	}
	if len(resp.MachineList) != vms {
		t.Fatalf("ListMachines: %d VMs, want %d", len(resp.MachineList), vms)
	}
}

func TestEndpointValidation(t *testing.T) {
	good := []string{"127.0.0.1:50051", "localhost:50051", "[::1]:50051", "unix:///var/run/mcm-driver/driver.sock", "unix:rel.sock", "passthrough:///127.0.0.1:1"}
	bad := []string{"", "  ", "/var/run/driver.sock", "unix://relative/driver.sock", "127.0.0.1", "127.0.0.1:", ":50051"}
	for _, e := range good {
		if err := grpcdriver.ValidateEndpoint(e); err != nil {
			t.Errorf("ValidateEndpoint(%q): %v", e, err)
		}
	}
	for _, e := range bad {
		if err := grpcdriver.ValidateEndpoint(e); err == nil {
			t.Errorf("ValidateEndpoint(%q) accepted", e)
		}
	}
}

// The error values must stay plain MCM status errors: MCM may wrap them with
// fmt.Errorf("...: %w") and still decode them.
func TestErrorsSurviveWrapping(t *testing.T) {
	f := &fakeSidecar{fail: func(context.Context, string) error {
		return grpcstatus.Error(codes.PermissionDenied, "no access")
	}}
	d := newDriver(t, startTCP(t, f), testTimeout)
	_, err := call(testContext(t), d, "CreateMachine")
	wrapped := fmt.Errorf("creating machine m1: %w", err)
	if got, _ := mcmCode(t, wrapped); got != mcmcodes.PermissionDenied {
		t.Errorf("wrapped: got %s", got)
	}
	var st *mcmstatus.Status
	if !errors.As(wrapped, &st) {
		t.Errorf("error is not a *status.Status")
	}
}
