package grpcdriver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	mcmcodes "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/codes"
	mcmstatus "github.com/gardener/machine-controller-manager/pkg/util/provider/machinecodes/status"
	grpccodes "google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// bracketReplacer replaces square brackets, which MCM's status.FromError uses to
// find the code and the message in err.Error(): a message with an unbalanced
// '[' (or an IPv6 address such as "[::1]:50051") would otherwise make MCM treat
// the error as undecodable.
var bracketReplacer = strings.NewReplacer("[", "(", "]", ")")

// sanitizeMessage makes msg safe to embed in an MCM status error.
func sanitizeMessage(msg string) string {
	return bracketReplacer.Replace(msg)
}

// callError is a failed sidecar call translated for MCM.
type callError struct {
	// err is the MCM machine-codes error handed to MCM.
	err error
	// grpc is the gRPC status of the call (nil if err was not a gRPC status),
	// kept to read the response the sidecar attached in its details.
	grpc *grpcstatus.Status
}

// translateError converts the error of a sidecar call into an MCM error.
//
//   - A gRPC status with code n in 1..17 becomes status.Error(codes.Code(n), msg)
//     of MCM's machinecodes packages: the numeric codes are identical, 17 being
//     MCM's Uninitialized. The message is msg with '[' and ']' replaced by '('
//     and ')'.
//   - The bridge's own deadline (callCtx expired) gives DeadlineExceeded with a
//     message saying so; an unreachable sidecar comes out of grpc-go as
//     Unavailable and stays Unavailable.
//   - A code above 17 (no MCM meaning) and an error that is not a gRPC status
//     become Unknown.
func translateError(callCtx context.Context, method string, d *Driver, err error) callError {
	st, ok := grpcstatus.FromError(err)
	if !ok {
		// Not produced by grpc-go's call path; should not happen.
		return callError{err: mcmstatus.Error(mcmcodes.Unknown,
			sanitizeMessage(fmt.Sprintf("driver sidecar call %s failed: %v", method, err)))}
	}

	code := uint32(st.Code())
	msg := st.Message()
	switch {
	case code == uint32(grpccodes.OK):
		// A nil error never gets here; a non-nil one with code OK is not an answer.
		return callError{grpc: st, err: mcmstatus.Error(mcmcodes.Unknown,
			sanitizeMessage(fmt.Sprintf("driver sidecar call %s failed with status OK: %s", method, msg)))}
	case code > uint32(mcmcodes.Uninitialized):
		return callError{grpc: st, err: mcmstatus.Error(mcmcodes.Unknown,
			sanitizeMessage(fmt.Sprintf("driver sidecar returned undefined code %d: %s", code, msg)))}
	}

	if st.Code() == grpccodes.DeadlineExceeded && deadlineReached(callCtx) {
		// The deadline of this call ran out: the bridge's --driver-call-timeout
		// or an earlier deadline of MCM's own context.
		msg = fmt.Sprintf("driver sidecar call %s hit its deadline (bridge call timeout %s): %s",
			method, d.callTimeout, msg)
	}
	return callError{grpc: st, err: mcmstatus.Error(mcmcodes.Code(code), sanitizeMessage(msg))}
}

// deadlineSlack: a grpc-go server ends a call at its (propagated) deadline
// with RST_STREAM, which the client may read a moment before its own timer
// marks the context done.
const deadlineSlack = 100 * time.Millisecond

// deadlineReached reports whether the deadline of ctx has (about) passed.
func deadlineReached(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < deadlineSlack
}

// detailOf returns the first message of type T in the details of st, if any.
// The sidecar attaches the method's response there when MCM needs data
// together with the error (google.rpc.Status.details, packed as Any).
func detailOf[T proto.Message](st *grpcstatus.Status) (T, bool) {
	var zero T
	if st == nil {
		return zero, false
	}
	for _, d := range st.Details() {
		if m, ok := d.(T); ok {
			return m, true
		}
	}
	return zero, false
}
