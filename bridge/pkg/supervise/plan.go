package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvCommand names the sidecar command line (split on white space, no
// quoting). The provider image sets it; when it is set the bridge runs the
// sidecar itself. Example:
//
//	/nodejs/bin/node /app/dist/src/cli/main.js serve --http-listen=127.0.0.1:10260
const EnvCommand = "MCM_DRIVER_SIDECAR_COMMAND"

// reservedFlags are the sidecar flags the bridge sets from its own, so that
// the two halves agree: the socket, and the waits that must end inside the
// bridge's call deadline.
var reservedFlags = []string{"--listen", "--create-timeout", "--delete-timeout"}

// Plan is how the bridge starts its sidecar.
type Plan struct {
	// Argv is the full sidecar command line.
	Argv []string
	// Endpoint is the bridge's --driver-endpoint: the child's socket.
	Endpoint string
	// SocketDir is the private directory of the socket (removed at exit).
	SocketDir string
}

// WaitBudget is how long the sidecar may wait inside one call (its
// --create-timeout and --delete-timeout): four fifths of the bridge's call
// deadline (5m gives 4m), so a VM that is still booting is answered with
// DeadlineExceeded and its lastKnownState before the bridge gives up on the
// call; MCM then retries the Machine (5s later), and the next call adopts the
// VM it already has, until --machine-creation-timeout.
func WaitBudget(callTimeout time.Duration) time.Duration {
	return callTimeout / 5 * 4
}

// NewPlan builds the sidecar command from command (the EnvCommand value) for a
// bridge whose call deadline is callTimeout. It makes a private socket
// directory under the temporary directory ($TMPDIR, else /tmp).
func NewPlan(command string, callTimeout time.Duration) (*Plan, error) {
	argv := strings.Fields(command)
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s is set but empty", EnvCommand)
	}
	var clash []string
	for _, a := range argv[1:] {
		for _, f := range reservedFlags {
			if a == f || strings.HasPrefix(a, f+"=") {
				clash = append(clash, f)
			}
		}
	}
	if len(clash) > 0 {
		return nil, fmt.Errorf("%s must not set %s: the bridge sets them (the socket, and waits that fit its --driver-call-timeout)", EnvCommand, strings.Join(clash, ", "))
	}
	dir, err := os.MkdirTemp("", "mcm-driver-")
	if err != nil {
		return nil, fmt.Errorf("making the driver socket directory: %w", err)
	}
	sock := filepath.Join(dir, "driver.sock")
	wait := fmt.Sprintf("%dms", WaitBudget(callTimeout).Milliseconds())
	argv = append(argv, "--listen=unix://"+sock, "--create-timeout="+wait, "--delete-timeout="+wait)
	return &Plan{Argv: argv, Endpoint: "unix://" + sock, SocketDir: dir}, nil
}
