// Package grpcdriver implements MCM's driver.Driver by forwarding every call to
// the project's driver sidecar over gRPC (service mcm.driver.v1.Driver,
// proto/mcm/driver/v1/driver.proto).
//
// Requests: the Machine and MachineClass travel as JSON (encoding/json; TypeMeta
// may be empty because MCM hands over objects from informer caches), the
// Secret's Data as secret_data (raw bytes), PV specs as JSON.
//
// Errors: the sidecar fails a call with a non-OK gRPC status whose numeric code
// is MCM's machine code (1..16 as in gRPC, 17 = Uninitialized). The Driver turns
// it into status.Error(codes.Code(n), msg) of MCM's machinecodes packages, with
// '[' and ']' in msg replaced by '(' and ')' because MCM reads the code back by
// parsing the bracketed error string. Where MCM uses a response together with
// an error, the sidecar puts the method's response message into the status
// details (google.rpc.Status.details, trailer grpc-status-details-bin) and the
// Driver returns it together with the error. Transport problems map to MCM's
// transient codes: an unreachable sidecar gives Unavailable, the bridge's
// per-call deadline gives DeadlineExceeded; MCM retries both after 5s.
//
// On success a response is never nil, and maps and slices in it are empty
// rather than nil: MCM dereferences them without checks.
package grpcdriver

import (
	"context"
	"fmt"
	"time"

	"github.com/gardener/machine-controller-manager/pkg/apis/machine/v1alpha1"
	"github.com/gardener/machine-controller-manager/pkg/util/provider/driver"
	mcmcodes "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/codes"
	mcmstatus "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/status"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"

	driverv1 "mcm-grpc-driver/bridge/gen/driverv1"
)

// DefaultCallTimeout is the default deadline of one sidecar call.
const DefaultCallTimeout = 5 * time.Minute

// Options configures a Driver.
type Options struct {
	// CallTimeout is the deadline the bridge puts on every sidecar call (MCM
	// passes context.Background(), so without it a hung sidecar would block an
	// MCM worker forever). Zero or negative disables it. An earlier deadline
	// of MCM's context still applies.
	CallTimeout time.Duration
}

// Driver implements driver.Driver of machine-controller-manager by calling
// the driver sidecar over gRPC. It is safe for concurrent use (MCM runs up to
// --concurrent-syncs workers per queue).
type Driver struct {
	client      driverv1.DriverClient
	callTimeout time.Duration
}

var _ driver.Driver = (*Driver)(nil)

// New returns a Driver that calls the sidecar over conn (see NewClientConn).
func New(conn grpc.ClientConnInterface, opts Options) *Driver {
	return &Driver{client: driverv1.NewDriverClient(conn), callTimeout: opts.CallTimeout}
}

// callContext derives the context of one sidecar call.
func (d *Driver) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	if d.callTimeout > 0 {
		return context.WithTimeout(ctx, d.callTimeout)
	}
	return context.WithCancel(ctx)
}

// machineArgs encodes the Machine, MachineClass and Secret common to four calls.
func machineArgs(machine *v1alpha1.Machine, class *v1alpha1.MachineClass) (m, c []byte, err error) {
	if machine == nil {
		return nil, nil, mcmstatus.Error(mcmcodes.InvalidArgument, "bridge: request has no Machine")
	}
	if class == nil {
		return nil, nil, mcmstatus.Error(mcmcodes.InvalidArgument, "bridge: request has no MachineClass")
	}
	if m, err = marshalJSON(machine); err != nil {
		return nil, nil, mcmstatus.Error(mcmcodes.InvalidArgument,
			sanitizeMessage(fmt.Sprintf("bridge: cannot encode Machine %q as JSON: %v", machine.Name, err)))
	}
	if c, err = marshalJSON(class); err != nil {
		return nil, nil, mcmstatus.Error(mcmcodes.InvalidArgument,
			sanitizeMessage(fmt.Sprintf("bridge: cannot encode MachineClass %q as JSON: %v", class.Name, err)))
	}
	return m, c, nil
}

// CreateMachine creates the VM for req.Machine through the sidecar.
//
// MCM calls it in the creation flow after GetMachineStatus answered NotFound
// or Unimplemented for a Machine whose spec.providerID is empty. On success
// the response (never nil) carries ProviderID, NodeName and Addresses; MCM
// stores ProviderID in spec.providerID and NodeName in the Machine label
// "node", ignores LastKnownState, and calls InitializeMachine next.
//
// Error codes (from the sidecar, or from the bridge where noted) and what MCM
// does with them; every one sets lastOperation Create/Failed with errorCode =
// the code name and phase CrashLoopBackOff (Failed once the creation timeout,
// 20m by default, has passed since the Machine was created):
//   - ResourceExhausted: quota or capacity; retry after --resource-exhausted-retry
//     (10m). The cluster-autoscaler reads it as out-of-resources.
//   - Unknown, DeadlineExceeded, Aborted, Unavailable: transient; retry after 5s.
//     The bridge returns DeadlineExceeded when the call timeout runs out,
//     Unavailable when the sidecar cannot be reached, and Unknown for a code
//     the sidecar sent that MCM does not know (above 17).
//   - InvalidArgument, PermissionDenied, Unauthenticated, AlreadyExists,
//     FailedPrecondition, Internal and every other code: retry after 3m. The
//     bridge returns InvalidArgument itself if the request has no Machine or
//     MachineClass.
//
// With an error the response is non-nil exactly when the sidecar attached a
// CreateMachineResponse in the status details; MCM then writes its
// LastKnownState to status.lastKnownState. Without one, MCM keeps the old
// value for ResourceExhausted and the transient codes and clears it for all
// other codes.
func (d *Driver) CreateMachine(ctx context.Context, req *driver.CreateMachineRequest) (*driver.CreateMachineResponse, error) {
	m, c, err := machineArgs(req.Machine, req.MachineClass)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.CreateMachine(callCtx, &driverv1.CreateMachineRequest{
		Machine: m, MachineClass: c, SecretData: secretData(req.Secret),
	})
	if err != nil {
		ce := translateError(callCtx, "CreateMachine", d, err)
		if r, ok := detailOf[*driverv1.CreateMachineResponse](ce.grpc); ok {
			return convertCreateMachineResponse(r), ce.err
		}
		return nil, ce.err
	}
	return convertCreateMachineResponse(resp), nil
}

func convertCreateMachineResponse(r *driverv1.CreateMachineResponse) *driver.CreateMachineResponse {
	return &driver.CreateMachineResponse{
		ProviderID:     r.GetProviderId(),
		NodeName:       r.GetNodeName(),
		LastKnownState: r.GetLastKnownState(),
		Addresses:      nodeAddresses(r.GetAddresses()),
	}
}

// InitializeMachine runs the post-create initialization of the VM through the
// sidecar.
//
// MCM calls it right after a successful CreateMachine, and again whenever
// GetMachineStatus answers Uninitialized. On success the response (never nil)
// carries ProviderID, NodeName and Addresses; MCM only uses Addresses, and
// only when it runs without a target cluster.
//
// Error codes and what MCM does with them:
//   - Unimplemented: the provider needs no initialization; MCM skips it and
//     carries on as if it had succeeded.
//   - any other code, NotFound and Uninitialized included (the bridge adds
//     DeadlineExceeded on its call timeout, Unavailable when the sidecar cannot
//     be reached, Unknown for a code above 17, InvalidArgument for a request
//     without Machine or MachineClass): lastOperation Create/Failed with
//     description "Provider error: ... Initialize VM Instance", phase
//     CrashLoopBackOff (Failed after the creation timeout), retry after 5s.
//     Initialization is retried only if the next GetMachineStatus answers
//     Uninitialized.
//
// With an error MCM ignores the response; it is returned anyway when the
// sidecar attached an InitializeMachineResponse in the status details.
func (d *Driver) InitializeMachine(ctx context.Context, req *driver.InitializeMachineRequest) (*driver.InitializeMachineResponse, error) {
	m, c, err := machineArgs(req.Machine, req.MachineClass)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.InitializeMachine(callCtx, &driverv1.InitializeMachineRequest{
		Machine: m, MachineClass: c, SecretData: secretData(req.Secret),
	})
	if err != nil {
		ce := translateError(callCtx, "InitializeMachine", d, err)
		if r, ok := detailOf[*driverv1.InitializeMachineResponse](ce.grpc); ok {
			return convertInitializeMachineResponse(r), ce.err
		}
		return nil, ce.err
	}
	return convertInitializeMachineResponse(resp), nil
}

func convertInitializeMachineResponse(r *driverv1.InitializeMachineResponse) *driver.InitializeMachineResponse {
	return &driver.InitializeMachineResponse{
		ProviderID: r.GetProviderId(),
		NodeName:   r.GetNodeName(),
		Addresses:  nodeAddresses(r.GetAddresses()),
	}
}

// DeleteMachine deletes the VM of req.Machine through the sidecar.
//
// MCM calls it in the deletion flow (after the drain) with the full Machine;
// from orphan collection and the stale-node check with a stub Machine that has
// only name, namespace and spec.providerID. If spec.providerID is set the
// sidecar must delete exactly that VM. On success the response is never nil;
// MCM moves on to deleting the Node.
//
// Error codes and what MCM does with them in the deletion flow (orphan
// collection only logs errors and retries at its next sweep):
//   - NotFound: treated like success ("VM not found. Continuing deletion flow").
//   - Unknown, DeadlineExceeded, Aborted, Unavailable: retry VM deletion after
//     5s. The bridge returns DeadlineExceeded when the call timeout runs out,
//     Unavailable when the sidecar cannot be reached, Unknown for a code above
//     17.
//   - any other code (the bridge adds InvalidArgument for a request without
//     Machine or MachineClass): retry VM deletion after 10m.
//
// On success and on error MCM writes the response's LastKnownState to
// status.lastKnownState (a nil response or an empty value clears it). With an
// error the response is non-nil exactly when the sidecar attached a
// DeleteMachineResponse in the status details.
func (d *Driver) DeleteMachine(ctx context.Context, req *driver.DeleteMachineRequest) (*driver.DeleteMachineResponse, error) {
	m, c, err := machineArgs(req.Machine, req.MachineClass)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.DeleteMachine(callCtx, &driverv1.DeleteMachineRequest{
		Machine: m, MachineClass: c, SecretData: secretData(req.Secret),
	})
	if err != nil {
		ce := translateError(callCtx, "DeleteMachine", d, err)
		if r, ok := detailOf[*driverv1.DeleteMachineResponse](ce.grpc); ok {
			return &driver.DeleteMachineResponse{LastKnownState: r.GetLastKnownState()}, ce.err
		}
		return nil, ce.err
	}
	return &driver.DeleteMachineResponse{LastKnownState: resp.GetLastKnownState()}, nil
}

// GetMachineStatus looks up the VM of req.Machine through the sidecar (by
// spec.providerID, or by Machine name when that is empty).
//
// MCM calls it first in every creation flow, and in the deletion flow to find
// the Node name when the Machine has no "node" label. On success the response
// (never nil) must carry a non-empty ProviderID and NodeName; MCM adopts them.
//
// Error codes and what MCM does with them in the creation flow:
//   - NotFound, Unimplemented: no VM; MCM calls CreateMachine if spec.providerID
//     is empty (otherwise it keeps spec.providerID and the "node" label).
//   - Uninitialized: the VM exists but is not initialized; MCM takes ProviderID
//     and NodeName from the response and calls InitializeMachine. The response
//     is therefore never nil with this code: it is the GetMachineStatusResponse
//     the sidecar attached in the status details, or an empty one if it
//     attached none (MCM then fails its own check for an empty ProviderID,
//     Internal, and retries after 3m instead of panicking).
//   - any other code (the bridge adds DeadlineExceeded on its call timeout,
//     Unavailable when the sidecar cannot be reached, Unknown for a code above
//     17, InvalidArgument for a request without Machine or MachineClass):
//     handled as a failed create (see CreateMachine): CrashLoopBackOff, retry
//     after 5s (Unknown, DeadlineExceeded, Aborted, Unavailable), 10m
//     (ResourceExhausted) or 3m (the rest). OutOfRange ("several VMs for this
//     Machine") additionally triggers an orphan sweep.
//
// In the deletion flow NotFound, Unimplemented and Uninitialized go on to the
// drain, the transient codes retry after 5s, other codes after 3m.
//
// For codes other than Uninitialized the response is non-nil only when the
// sidecar attached one in the status details; MCM does not read it then.
func (d *Driver) GetMachineStatus(ctx context.Context, req *driver.GetMachineStatusRequest) (*driver.GetMachineStatusResponse, error) {
	m, c, err := machineArgs(req.Machine, req.MachineClass)
	if err != nil {
		return nil, err
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.GetMachineStatus(callCtx, &driverv1.GetMachineStatusRequest{
		Machine: m, MachineClass: c, SecretData: secretData(req.Secret),
	})
	if err != nil {
		ce := translateError(callCtx, "GetMachineStatus", d, err)
		if r, ok := detailOf[*driverv1.GetMachineStatusResponse](ce.grpc); ok {
			return convertGetMachineStatusResponse(r), ce.err
		}
		if st, _ := mcmstatus.FromError(ce.err); st.Code() == mcmcodes.Uninitialized {
			// MCM dereferences the response for Uninitialized.
			return &driver.GetMachineStatusResponse{Addresses: []corev1.NodeAddress{}}, ce.err
		}
		return nil, ce.err
	}
	return convertGetMachineStatusResponse(resp), nil
}

func convertGetMachineStatusResponse(r *driverv1.GetMachineStatusResponse) *driver.GetMachineStatusResponse {
	return &driver.GetMachineStatusResponse{
		ProviderID: r.GetProviderId(),
		NodeName:   r.GetNodeName(),
		Addresses:  nodeAddresses(r.GetAddresses()),
	}
}

// ListMachines lists, through the sidecar, the VMs created from
// req.MachineClass by this cluster, as a map providerID -> Machine name.
//
// MCM's orphan collection calls it for every MachineClass in its namespace at
// startup, every --machine-safety-orphan-vms-period (15m), after every Machine
// deletion and when a Machine's lastOperation first mentions OutOfRange. It
// calls DeleteMachine for every entry whose Machine does not exist or has
// another spec.providerID (and is past creation). On success the response is
// never nil and its MachineList is an empty map, not nil, when there are no
// VMs.
//
// Error codes: MCM only logs any error (Unimplemented included: no orphan
// collection), skips the remaining MachineClasses of this sweep, and tries
// again after 10m. The bridge returns DeadlineExceeded when the call timeout
// runs out, Unavailable when the sidecar cannot be reached, Unknown for a code
// above 17, and InvalidArgument for a request without MachineClass.
func (d *Driver) ListMachines(ctx context.Context, req *driver.ListMachinesRequest) (*driver.ListMachinesResponse, error) {
	if req.MachineClass == nil {
		return nil, mcmstatus.Error(mcmcodes.InvalidArgument, "bridge: request has no MachineClass")
	}
	c, err := marshalJSON(req.MachineClass)
	if err != nil {
		return nil, mcmstatus.Error(mcmcodes.InvalidArgument,
			sanitizeMessage(fmt.Sprintf("bridge: cannot encode MachineClass %q as JSON: %v", req.MachineClass.Name, err)))
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.ListMachines(callCtx, &driverv1.ListMachinesRequest{
		MachineClass: c, SecretData: secretData(req.Secret),
	})
	if err != nil {
		ce := translateError(callCtx, "ListMachines", d, err)
		if r, ok := detailOf[*driverv1.ListMachinesResponse](ce.grpc); ok {
			return convertListMachinesResponse(r), ce.err
		}
		return nil, ce.err
	}
	return convertListMachinesResponse(resp), nil
}

func convertListMachinesResponse(r *driverv1.ListMachinesResponse) *driver.ListMachinesResponse {
	list := make(map[string]string, len(r.GetMachineList()))
	for providerID, machineName := range r.GetMachineList() {
		list[providerID] = machineName
	}
	return &driver.ListMachinesResponse{MachineList: list}
}

// GetVolumeIDs maps PersistentVolume specs to the provider's volume IDs
// through the sidecar.
//
// MCM's drain calls it with one PV spec at a time and uses the first returned
// ID as a regular expression on node.status.volumesAttached to wait for the
// volume's detach; an empty list means the volume is not tracked. On success
// the response is never nil and VolumeIDs is an empty slice, not nil, when no
// volume is the provider's.
//
// Error codes: MCM treats any error like an empty answer (the volume is not
// waited for) and only logs it. The bridge returns DeadlineExceeded when the
// call timeout (or the drain's own deadline) runs out, Unavailable when the
// sidecar cannot be reached, Unknown for a code above 17, and InvalidArgument
// when a PV spec cannot be encoded.
func (d *Driver) GetVolumeIDs(ctx context.Context, req *driver.GetVolumeIDsRequest) (*driver.GetVolumeIDsResponse, error) {
	specs := make([][]byte, 0, len(req.PVSpecs))
	for i, spec := range req.PVSpecs {
		if spec == nil {
			// Keep positions aligned; an empty spec names no volume.
			specs = append(specs, []byte("{}"))
			continue
		}
		b, err := marshalJSON(spec)
		if err != nil {
			return nil, mcmstatus.Error(mcmcodes.InvalidArgument,
				sanitizeMessage(fmt.Sprintf("bridge: cannot encode PV spec %d as JSON: %v", i, err)))
		}
		specs = append(specs, b)
	}
	callCtx, cancel := d.callContext(ctx)
	defer cancel()
	resp, err := d.client.GetVolumeIDs(callCtx, &driverv1.GetVolumeIDsRequest{PvSpecs: specs})
	if err != nil {
		ce := translateError(callCtx, "GetVolumeIDs", d, err)
		if r, ok := detailOf[*driverv1.GetVolumeIDsResponse](ce.grpc); ok {
			return convertGetVolumeIDsResponse(r), ce.err
		}
		return nil, ce.err
	}
	return convertGetVolumeIDsResponse(resp), nil
}

func convertGetVolumeIDsResponse(r *driverv1.GetVolumeIDsResponse) *driver.GetVolumeIDsResponse {
	ids := make([]string, 0, len(r.GetVolumeIds()))
	ids = append(ids, r.GetVolumeIds()...)
	return &driver.GetVolumeIDsResponse{VolumeIDs: ids}
}
