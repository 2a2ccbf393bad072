package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runNative is the path a host whose kernel has IPVS takes; these hosts
// have none, so it is tested with plain shell steps.
func TestRunNative(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "conf"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	spec := Spec{
		Steps: []Step{
			{Name: "a", Args: []string{"sh", "-c", `cat "$LVSD_LAB_FILES/x/conf"; echo "$K $S"; printf partial`}, Env: []string{"S=step"}},
			{Name: "b", Args: []string{"sh", "-c", "pwd; exit 3"}, HostDir: dir},
			{Name: "c", Args: []string{"/nonexistent/prog"}},
		},
		Files:   []File{{Src: filepath.Join(dir, "conf"), Dst: "x/conf"}},
		Env:     []string{"K=spec"},
		Timeout: time.Minute, Output: &out,
	}
	res, err := runNative(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Steps[0]; s.Exit != 0 || s.Output != "hello\nspec step\npartial\n" {
		t.Errorf("step a = %+v", s)
	}
	if s := res.Steps[1]; s.Exit != 3 || strings.TrimSpace(s.Output) != dir {
		t.Errorf("step b = %+v, want exit 3 in %s", s, dir)
	}
	if s := res.Steps[2]; s.Exit != 127 || !s.Finished {
		t.Errorf("step c = %+v, want 127 for a missing program", s)
	}
	if res.ExitCode() != 3 || res.Mode != Native {
		t.Errorf("ExitCode %d mode %s", res.ExitCode(), res.Mode)
	}
	if !strings.Contains(out.String(), "lab: === b: exit 3") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunNativeTimeoutKillsTheGroup(t *testing.T) {
	var out strings.Builder
	spec := Spec{
		// The child sleeps in the background too: the whole group must go.
		Steps:   []Step{{Name: "hang", Args: []string{"sh", "-c", "sleep 60 & echo started; wait"}}},
		Timeout: time.Second, Output: &out,
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Timeout)
	defer cancel()
	start := time.Now()
	res, err := runNative(ctx, spec)
	var nr *NoResultError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v, want a NoResultError", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the hung step was stopped after %v", d)
	}
	if s := res.Steps[0]; s.Finished || !strings.Contains(s.Output, "started") {
		t.Errorf("step = %+v", s)
	}
}

func TestRunNativeRefusesGuestPaths(t *testing.T) {
	_, err := runNative(context.Background(), Spec{Files: []File{{Src: "/etc/hostname", Dst: "/etc/x"}}, Output: &strings.Builder{}})
	if err == nil || !strings.Contains(err.Error(), "needs the VM") {
		t.Fatalf("err = %v", err)
	}
}
