package grpcdriver

import (
	"bytes"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	driverv1 "mcm-grpc-driver/bridge/gen/driverv1"
)

// marshalJSON encodes v like encoding/json.Marshal but without HTML escaping,
// so that raw JSON embedded in the object (MachineClass.providerSpec, a
// runtime.RawExtension) reaches the sidecar with its bytes unchanged except for
// insignificant whitespace (encoding/json compacts embedded raw JSON).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// secretData returns the bytes the sidecar gets as secret_data: Secret.Data,
// with Secret.StringData laid over it (Kubernetes write semantics; MCM itself
// only ever fills Data). A nil Secret gives an empty, non-nil map.
func secretData(s *corev1.Secret) map[string][]byte {
	out := make(map[string][]byte)
	if s == nil {
		return out
	}
	for k, v := range s.Data {
		if v == nil {
			v = []byte{}
		}
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

// nodeAddresses converts the sidecar's addresses; never nil.
func nodeAddresses(in []*driverv1.NodeAddress) []corev1.NodeAddress {
	out := make([]corev1.NodeAddress, 0, len(in))
	for _, a := range in {
		if a == nil {
			continue
		}
		out = append(out, corev1.NodeAddress{
			Type:    corev1.NodeAddressType(a.GetType()),
			Address: a.GetAddress(),
		})
	}
	return out
}
