package supervise

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Exit codes of the bridge when it supervises the sidecar.
const (
	// ExitStopped: a forwarded SIGTERM/SIGINT, and the sidecar shut down cleanly.
	ExitStopped = 0
	// ExitChildDied: the sidecar exited on its own (the container must restart),
	// or it did not end cleanly after a forwarded signal.
	ExitChildDied = 1
)

// Watch blocks until the bridge must exit and returns the exit code and why.
//
// The first signal from signals is forwarded to the child as SIGTERM; the
// bridge (MCM's controller, which keeps running meanwhile so in-flight calls
// still get their answers) exits once the child has ended, or after grace
// when the child is killed. A child that exits without having been told to is
// a failure: the bridge exits with ExitChildDied, so the kubelet restarts the
// whole container instead of leaving MCM without a driver.
func Watch(c *Child, signals <-chan os.Signal, grace time.Duration) (code int, reason string) {
	select {
	case <-c.Done():
		return ExitChildDied, "the driver sidecar exited on its own (" + describeExit(c.ExitErr()) + "): stopping the bridge so the container restarts"
	case sig := <-signals:
		err := c.Stop(grace)
		if cleanAfterTerm(err) {
			return ExitStopped, "received " + signalName(sig) + ", forwarded SIGTERM to the driver sidecar, which shut down (" + describeExit(err) + ")"
		}
		return ExitChildDied, "received " + signalName(sig) + ", forwarded SIGTERM to the driver sidecar, which ended uncleanly (" + describeExit(err) + ")"
	}
}

// cleanAfterTerm: exit code 0, or the default action of the SIGTERM we sent.
func cleanAfterTerm(err error) bool {
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}

// signalName: "SIGTERM" rather than Go's "terminated".
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}
