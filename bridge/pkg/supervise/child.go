// Package supervise runs the driver sidecar as a child of the bridge, so one
// container (Gardener's single provider container of the MCM Deployment) holds
// both halves: the bridge starts the child, waits until it serves, forwards
// SIGTERM/SIGINT to it, and exits when it dies. The child dies with the bridge
// (Pdeathsig), also when the bridge is killed without a chance to clean up.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Child is a started sidecar process.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's result; valid once done is closed
}

// Start starts argv as a child with the given extra environment (on top of the
// bridge's own). Its stdout and stderr are the bridge's, so the container log
// holds both halves.
func Start(argv []string, extraEnv []string) (*Child, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("sidecar command is empty")
	}
	c := &Child{done: make(chan struct{})}
	c.cmd = exec.Command(argv[0], argv[1:]...) // #nosec G204 -- the command is the image's own configuration
	c.cmd.Env = append(os.Environ(), extraEnv...)
	c.cmd.Stdout = os.Stdout
	c.cmd.Stderr = os.Stderr
	// Pdeathsig is delivered when the *thread* that forked the child exits, not
	// the process (prctl(2) PR_SET_PDEATHSIG). Go may retire an idle thread, so
	// the fork and the wait run on one goroutine locked to its thread for the
	// child's whole life. SIGTERM rather than SIGKILL: the sidecar then answers
	// or cancels its in-flight calls (its own graceful shutdown).
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := c.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting the sidecar %q: %w", argv[0], err)
	}
	return c, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitErr is how the child ended (nil: exit code 0). Only valid after Done.
func (c *Child) ExitErr() error { return c.err }

// Signal sends sig to the child; a child that already exited is not an error.
func (c *Child) Signal(sig os.Signal) error {
	err := c.cmd.Process.Signal(sig)
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// Stop sends SIGTERM and waits up to grace for the child to exit, then kills
// it. It returns how the child ended.
func (c *Child) Stop(grace time.Duration) error {
	_ = c.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.Signal(syscall.SIGKILL)
		<-c.done
	}
	return c.err
}

// WaitReady calls probe every interval until it succeeds. It fails when the
// child exits first or ctx ends, with the probe's last error.
func (c *Child) WaitReady(ctx context.Context, interval time.Duration, probe func(context.Context) error) error {
	var last error
	for {
		if last = probe(ctx); last == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("the sidecar exited before it served (%v): %w", describeExit(c.err), last)
		case <-ctx.Done():
			return fmt.Errorf("the sidecar did not serve in time: %w", last)
		case <-time.After(interval):
		}
	}
}

// describeExit names how a process ended: "exit code 3", "signal: killed".
func describeExit(err error) string {
	if err == nil {
		return "exit code 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit code %d", ee.ExitCode())
	}
	return err.Error()
}
