package supervise

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestNewPlanAppendsSocketAndWaits(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	p, err := NewPlan("/nodejs/bin/node /app/dist/src/cli/main.js serve --http-listen=127.0.0.1:10260", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/nodejs/bin/node", "/app/dist/src/cli/main.js", "serve", "--http-listen=127.0.0.1:10260",
		"--listen=unix://" + p.SocketDir + "/driver.sock", "--create-timeout=240000ms", "--delete-timeout=240000ms"}
	if strings.Join(p.Argv, " ") != strings.Join(want, " ") {
		t.Errorf("argv\n got %q\nwant %q", p.Argv, want)
	}
	if p.Endpoint != "unix://"+p.SocketDir+"/driver.sock" {
		t.Errorf("endpoint %q", p.Endpoint)
	}
	st, err := os.Stat(p.SocketDir)
	if err != nil || st.Mode().Perm() != 0o700 || !strings.HasPrefix(p.SocketDir, os.Getenv("TMPDIR")) {
		t.Errorf("socket dir %s: %v %v", p.SocketDir, st, err)
	}
}

func TestNewPlanRejectsFlagsTheBridgeSets(t *testing.T) {
	_, err := NewPlan("node main.js serve --listen=127.0.0.1:1 --create-timeout 10m --http-listen=x", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "--listen, --create-timeout") || strings.Contains(err.Error(), "--http-listen") {
		t.Errorf("err %v", err)
	}
	if _, err := NewPlan("  ", time.Minute); err == nil || !strings.Contains(err.Error(), EnvCommand) {
		t.Errorf("blank command: %v", err)
	}
}

// The sidecar's waits end inside the bridge's call deadline, with room for
// the answer (and its lastKnownState) to reach MCM.
func TestWaitBudgetFitsTheCallDeadline(t *testing.T) {
	for _, call := range []time.Duration{30 * time.Second, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute} {
		w := WaitBudget(call)
		if w <= 0 || w >= call || call-w < call/5 {
			t.Errorf("call %s: wait %s", call, w)
		}
	}
	if WaitBudget(5*time.Minute) != 4*time.Minute {
		t.Errorf("5m call: %s, want the sidecar's documented 4m", WaitBudget(5*time.Minute))
	}
}
