package supervise

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child: with helperEnv set, TestMain plays
// the sidecar (or, for the Pdeathsig test, a bridge that has a sidecar)
// instead of running the tests.
const (
	helperEnv  = "SUPERVISE_TEST_HELPER"
	markerEnv  = "SUPERVISE_TEST_MARKER"
	helperWait = 30 * time.Second
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "term": // a sidecar: records SIGTERM in the marker file and exits 0
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		ready()
		select {
		case s := <-sigs:
			_ = os.WriteFile(os.Getenv(markerEnv), []byte(s.String()), 0o600)
			os.Exit(0)
		case <-time.After(helperWait):
			os.Exit(9)
		}
	case "exit3": // a sidecar that dies on its own
		time.Sleep(200 * time.Millisecond)
		os.Exit(3)
	case "stubborn": // a sidecar that ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		ready()
		time.Sleep(helperWait)
		os.Exit(9)
	case "parent": // a bridge: starts a "term" child, prints its pid, waits to be killed
		c, err := Start([]string{os.Args[0]}, []string{helperEnv + "=term"})
		if err != nil {
			os.Exit(8)
		}
		os.Stdout.WriteString(strconv.Itoa(c.Pid()) + "\n")
		time.Sleep(helperWait)
		os.Exit(9)
	}
	os.Exit(7)
}

// ready tells the test that the helper's signal disposition is in place.
func ready() {
	if m := os.Getenv(markerEnv); m != "" {
		_ = os.WriteFile(m+".ready", nil, 0o600)
	}
}

func startHelper(t *testing.T, mode string) (*Child, string) {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "marker")
	c, err := Start([]string{os.Args[0]}, []string{helperEnv + "=" + mode, markerEnv + "=" + marker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Signal(syscall.SIGKILL); <-c.Done() })
	return c, marker
}

// waitReady waits until the helper has installed its signal handling (a
// signal sent earlier would meet Go's default action instead).
func waitReady(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(marker + ".ready"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper did not get ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchForwardsSIGTERMAndExitsCleanly(t *testing.T) {
	c, marker := startHelper(t, "term")
	waitReady(t, marker)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	code, reason := Watch(c, sigs, 5*time.Second)
	if code != ExitStopped {
		t.Fatalf("code %d (%s)", code, reason)
	}
	got, err := os.ReadFile(marker)
	if err != nil || string(got) != syscall.SIGTERM.String() {
		t.Errorf("the child did not receive SIGTERM: %q %v", got, err)
	}
	if !strings.Contains(reason, "received SIGTERM, forwarded SIGTERM") {
		t.Errorf("reason %q", reason)
	}
}

func TestWatchForwardsSIGINTAsSIGTERM(t *testing.T) {
	c, marker := startHelper(t, "term")
	waitReady(t, marker)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGINT
	if code, reason := Watch(c, sigs, 5*time.Second); code != ExitStopped {
		t.Fatalf("code %d (%s)", code, reason)
	}
	if got, _ := os.ReadFile(marker); string(got) != syscall.SIGTERM.String() {
		t.Errorf("child got %q", got)
	}
}

func TestWatchFailsWhenTheChildDies(t *testing.T) {
	c, _ := startHelper(t, "exit3")
	start := time.Now()
	code, reason := Watch(c, make(chan os.Signal), time.Second)
	if code != ExitChildDied || !strings.Contains(reason, "exit code 3") {
		t.Errorf("code %d reason %q", code, reason)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("noticed the death only after %s", time.Since(start))
	}
}

func TestStopKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	c, marker := startHelper(t, "stubborn")
	waitReady(t, marker)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGTERM
	start := time.Now()
	code, reason := Watch(c, sigs, 500*time.Millisecond)
	if code != ExitChildDied || !strings.Contains(reason, "killed") {
		t.Errorf("code %d reason %q", code, reason)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Errorf("stopped after %s, want the 500ms grace", d)
	}
}

// The bridge is SIGKILLed (or crashes): its sidecar must not live on.
func TestChildDiesWithTheBridge(t *testing.T) {
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), helperEnv+"=parent")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no child pid from the parent: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("child %q not running", line)
	}
	_ = parent.Process.Kill()
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		// The child is re-parented (to init or a subreaper, here possibly this
		// test), so a zombie counts as gone: check its state.
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d still runs 10s after its parent was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWaitReady(t *testing.T) {
	c, _ := startHelper(t, "term")
	calls := 0
	err := c.WaitReady(context.Background(), 10*time.Millisecond, func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("err %v after %d probes", err, calls)
	}
}

func TestWaitReadyFailsWhenTheChildExitsFirst(t *testing.T) {
	c, _ := startHelper(t, "exit3")
	err := c.WaitReady(context.Background(), 10*time.Millisecond, func(context.Context) error { return errors.New("connection refused") })
	if err == nil || !strings.Contains(err.Error(), "exit code 3") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err %v", err)
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	c, _ := startHelper(t, "term")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := c.WaitReady(ctx, 10*time.Millisecond, func(context.Context) error { return errors.New("health NOT_SERVING") })
	if err == nil || !strings.Contains(err.Error(), "in time") || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("err %v", err)
	}
}

func TestStartRejectsAMissingCommand(t *testing.T) {
	if _, err := Start([]string{filepath.Join(t.TempDir(), "nope")}, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("err %v", err)
	}
	if _, err := Start(nil, nil); err == nil {
		t.Error("empty command accepted")
	}
}
