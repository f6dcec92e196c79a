// Package hack holds the code-generation script; this test runs it in check
// mode so `go test ./...` notices generated code that no longer matches
// ../proto/mcm/driver/v1/driver.proto.
package hack

import (
	"os/exec"
	"strings"
	"testing"
)

const pinnedProtoc = "libprotoc 3.21.12" // keep in sync with PROTOC_VERSION in generate.sh

func TestGeneratedCodeIsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the generated-code drift check")
	}
	out, err := exec.Command("protoc", "--version").Output()
	if err != nil {
		t.Skip("protoc not installed (apt-get install -y protobuf-compiler); drift check skipped")
	}
	if got := strings.TrimSpace(string(out)); got != pinnedProtoc {
		t.Skipf("protoc is %q, the generated code was made with %q; drift check skipped", got, pinnedProtoc)
	}
	cmd := exec.Command("bash", "generate.sh", "--check")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh --check: %v\n%s", err, b)
	}
}
