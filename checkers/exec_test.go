package checkers

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func writeScript(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func execDef(timeout time.Duration, spec ExecSpec) Definition {
	return Definition{Target: netip.MustParseAddrPort("127.0.0.1:8080"), Settings: Settings{Timeout: timeout}, Spec: spec}
}

func TestExecCheck(t *testing.T) {
	dir := t.TempDir()
	code := writeScript(t, dir, "code.sh", `echo "$LVSD_CHECK_ADDRESS:$LVSD_CHECK_PORT $EXTRA"; exit $1`)
	tests := []struct {
		name      string
		spec      ExecSpec
		ok        bool
		reason    string
		hasWeight bool
		weight    int
	}{
		{"exit 0 is up", ExecSpec{Command: []string{code, "0"}, Env: []string{"EXTRA=x"}}, true, "exit 0: 127.0.0.1:8080 x", false, 0},
		{"exit 1 is down", ExecSpec{Command: []string{code, "1"}}, false, "exit 1: 127.0.0.1:8080", false, 0},
		{"exit 5 without dynamic weight is down", ExecSpec{Command: []string{code, "5"}}, false, "exit 5: 127.0.0.1:8080", false, 0},
		{"exit 5 with dynamic weight is up, weight 3", ExecSpec{Command: []string{code, "5"}, DynamicWeight: true}, true, "exit 5: 127.0.0.1:8080", true, 3},
		{"exit 2 with dynamic weight is weight 0", ExecSpec{Command: []string{code, "2"}, DynamicWeight: true}, true, "exit 2: 127.0.0.1:8080", true, 0},
		{"exit 255 with dynamic weight is weight 253", ExecSpec{Command: []string{code, "255"}, DynamicWeight: true}, true, "exit 255: 127.0.0.1:8080", true, 253},
		{"exit 0 with dynamic weight keeps the weight", ExecSpec{Command: []string{code, "0"}, DynamicWeight: true}, true, "exit 0: 127.0.0.1:8080", false, 0},
		{"exit 1 with dynamic weight is down", ExecSpec{Command: []string{code, "1"}, DynamicWeight: true}, false, "exit 1: 127.0.0.1:8080", false, 0},
		{"PATH lookup", ExecSpec{Command: []string{"true"}}, true, "exit 0", false, 0},
		{"missing program", ExecSpec{Command: []string{dir + "/none"}}, false, "", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCheck(t, execDef(5*time.Second, tt.spec), nil)
			if r.OK != tt.ok || (tt.reason != "" && r.Reason != tt.reason) || r.HasWeight != tt.hasWeight || r.Weight != tt.weight {
				t.Fatalf("result %+v, want ok=%v reason %q weight %v/%d", r, tt.ok, tt.reason, tt.hasWeight, tt.weight)
			}
		})
	}
}

// A check script that hangs is killed at the timeout with the child it
// started (keepalived's MISC_CHECK leaves such children behind).
func TestExecCheckHangKilled(t *testing.T) {
	dir := t.TempDir()
	p := writeScript(t, dir, "hang.sh", "sleep 1000 &\necho $! > "+dir+"/child\necho $$ > "+dir+"/parent\nwait\n")
	start := time.Now()
	r := mustCheck(t, execDef(250*time.Millisecond, ExecSpec{Command: []string{p}}), nil)
	if r.OK || r.Reason != "timeout after 250ms (process group killed)" {
		t.Fatalf("result %+v", r)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("check returned after %v", took)
	}
	for _, f := range []string{"parent", "child"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if !processGone(pid, 3*time.Second) {
			t.Errorf("%s %d still runs", f, pid)
		}
	}
}

// processGone waits (bounded) for pid to be absent or a zombie.
func processGone(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) && s[i+2] == 'Z' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecCheckUser runs the command as another user (root only: setuid
// needs the privilege lvsd has in production).
func TestExecCheckUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as another user (make test runs as root)")
	}
	// t.TempDir's parent is private to root: nobody could not run from it.
	dir, err := os.MkdirTemp("", "lvsd-exec-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	p := writeScript(t, dir, "id.sh", `echo "$(id -u):$(id -g)"`)
	r := mustCheck(t, execDef(5*time.Second, ExecSpec{Command: []string{p}, User: "nobody"}), nil)
	if !r.OK || r.Reason != "exit 0: 65534:65534" {
		t.Fatalf("as nobody: %+v", r)
	}
	r = mustCheck(t, execDef(5*time.Second, ExecSpec{Command: []string{p}, User: "65534"}), nil)
	if !r.OK || r.Reason != "exit 0: 65534:65534" {
		t.Fatalf("as uid 65534: %+v", r)
	}
	if _, err := Build(execDef(time.Second, ExecSpec{Command: []string{p}, User: "no-such-user-lvsd"}), nil); err == nil || !strings.Contains(err.Error(), `user "no-such-user-lvsd"`) {
		t.Fatalf("unknown user: %v", err)
	}
}
