package lab

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQEMU is a stand-in for qemu-system-x86_64 that prints what a guest
// would print on its console in one scenario, so the console follower, the
// markers and the timeout handling are tested without booting anything.
const fakeQEMU = `#!/bin/sh
n=$FAKE_NONCE
case "$FAKE_SCENARIO" in
pass)
	printf 'SeaBIOS (version 1.16.2)\r\nBooting from ROM..'
	echo "@@lab $n ready"
	echo "@@lab $n begin 0"
	printf '=== RUN   TestKernelA\r\n--- PASS: TestKernelA (0.01s)\r\nPASS\r\n'
	echo "@@lab $n end 0 0"
	echo "@@lab $n begin 1"
	printf 'no newline at the end'
	echo "@@lab $n end 1 3"
	echo "@@lab $n result 3"
	echo "[    3.1] reboot: Power down"
	;;
forged)
	echo "@@lab $n ready"
	echo "@@lab $n begin 0"
	echo "@@lab 0000000000000000 result 0"
	echo "@@lab 0000000000000000 end 0 0"
	echo "@@lab $n end 0 1"
	echo "@@lab $n result 1"
	;;
panic)
	echo "@@lab $n ready"
	echo "@@lab $n begin 0"
	echo "=== RUN   TestKernelA"
	echo "[    5.0] BUG: kernel NULL pointer dereference, address: 0000000000000000"
	echo "[    5.1] Kernel panic - not syncing: Fatal exception in interrupt"
	;;
noresult)
	echo "@@lab $n ready"
	echo "@@lab $n begin 0"
	echo "@@lab $n end 0 0"
	;;
hang)
	echo "@@lab $n ready"
	echo "@@lab $n begin 0"
	echo "=== RUN   TestKernelHang"
	exec sleep 30
	;;
broken)
	echo "qemu-system-x86_64: -kernel /nonexistent: could not open" >&2
	exit 1
	;;
esac
`

func fakeBoot(t *testing.T, scenario string, timeout time.Duration, steps int) (*Result, string, error) {
	t.Helper()
	dir := t.TempDir()
	q := filepath.Join(dir, "qemu")
	if err := os.WriteFile(q, []byte(fakeQEMU), 0o755); err != nil {
		t.Fatal(err)
	}
	nonce := "0123456789abcdef"
	t.Setenv("FAKE_NONCE", nonce)
	t.Setenv("FAKE_SCENARIO", scenario)
	var out strings.Builder
	spec := Spec{Timeout: timeout, Output: &out, MemoryMiB: 64, CPUs: 1, qemu: q}
	for i := 0; i < steps; i++ {
		spec.Steps = append(spec.Steps, Step{Name: "step" + string(rune('A'+i)), Program: "/bin/true"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := boot(ctx, spec, &Kernel{Release: "6.1.0-test", Image: "/vmlinux"}, "/initrd", nonce)
	return res, out.String(), err
}

func TestBootPass(t *testing.T) {
	res, out, err := fakeBoot(t, "pass", 20*time.Second, 2)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	if res.ExitCode() != 3 {
		t.Errorf("ExitCode() = %d, want 3 (the second step's)", res.ExitCode())
	}
	a, b := res.Steps[0], res.Steps[1]
	if !a.Finished || a.Exit != 0 || !strings.Contains(a.Output, "--- PASS: TestKernelA") || strings.Contains(a.Output, "\r") {
		t.Errorf("step A = %+v", a)
	}
	if !b.Finished || b.Exit != 3 || b.Output != "no newline at the end\n" {
		t.Errorf("step B = %+v", b)
	}
	if res.Boot <= 0 || res.Kernel != "6.1.0-test" {
		t.Errorf("Boot %v Kernel %q", res.Boot, res.Kernel)
	}
	for _, noise := range []string{"SeaBIOS", "Booting from ROM", "Power down", "@@lab"} {
		if strings.Contains(out, noise) {
			t.Errorf("console output shows %q:\n%s", noise, out)
		}
	}
	if !strings.Contains(out, "lab: === stepB: exit 3") {
		t.Errorf("console output does not report step B's exit:\n%s", out)
	}
}

func TestBootIgnoresForeignMarkers(t *testing.T) {
	res, _, err := fakeBoot(t, "forged", 20*time.Second, 1)
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	if res.Steps[0].Exit != 1 || res.ExitCode() != 1 {
		t.Errorf("a marker with another nonce was believed: %+v", res.Steps[0])
	}
}

func TestBootKernelPanic(t *testing.T) {
	res, _, err := fakeBoot(t, "panic", 20*time.Second, 1)
	var nr *NoResultError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v, want a NoResultError", err)
	}
	if !strings.Contains(err.Error(), "Kernel panic - not syncing") {
		t.Errorf("error does not show the console's last lines: %v", err)
	}
	if s := res.Steps[0]; !s.Started || s.Finished || !strings.Contains(s.Output, "=== RUN   TestKernelA") {
		t.Errorf("step = %+v, want started, unfinished, with its output", s)
	}
	if res.ExitCode() == 0 {
		t.Error("ExitCode() = 0 after a panic")
	}
}

func TestBootMissingResultLine(t *testing.T) {
	res, _, err := fakeBoot(t, "noresult", 20*time.Second, 1)
	var nr *NoResultError
	if !errors.As(err, &nr) || !strings.Contains(nr.Reason, "without printing it") {
		t.Fatalf("err = %v, want a NoResultError about the missing result", err)
	}
	if !res.Steps[0].Finished {
		t.Errorf("the step's own end marker was lost: %+v", res.Steps[0])
	}
}

func TestBootTimeout(t *testing.T) {
	start := time.Now()
	res, _, err := fakeBoot(t, "hang", 1500*time.Millisecond, 1)
	var nr *NoResultError
	if !errors.As(err, &nr) || !strings.Contains(nr.Reason, "timed out") {
		t.Fatalf("err = %v, want a NoResultError about the timeout", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the hung VM was stopped after %v", d)
	}
	if s := res.Steps[0]; s.Finished || !strings.Contains(s.Output, "TestKernelHang") {
		t.Errorf("step = %+v", s)
	}
	if len(nr.Tail) == 0 || !strings.Contains(nr.Tail[len(nr.Tail)-1], "TestKernelHang") {
		t.Errorf("tail = %q", nr.Tail)
	}
}

func TestBootQEMUFails(t *testing.T) {
	_, _, err := fakeBoot(t, "broken", 20*time.Second, 1)
	if err == nil || !strings.Contains(err.Error(), "could not open") || !strings.Contains(err.Error(), "never became ready") {
		t.Fatalf("err = %v, want QEMU's complaint", err)
	}
}

func TestPayloadArchive(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("needs the cpio tool to read the archive back (make deps installs it)")
	}
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tree/a.hcl", "tree/sub/b.txt", "tree/.git"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := Spec{
		Steps: []Step{
			{Name: "p", Program: prog, Args: []string{"-x", "it's"}, Dir: "/src/pkg", Env: []string{"A=b c"}},
			{Name: "cmd", Args: []string{"ipvsadm", "-Ln"}},
		},
		Files: []File{
			{Src: filepath.Join(dir, "tree"), Dst: "/src", Skip: sourceSkip},
			{Src: prog, Dst: "conf/prog"},
		},
		Env: []string{"K=v"},
	}
	archive := filepath.Join(dir, "payload.cpio")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePayload(f, spec, "feedface"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cpio, "-id", "--quiet", "-F", archive)
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v: %s", err, b)
	}
	for _, p := range []string{"lab/run", "lab/bin/0-prog", "src/a.hcl", "src/sub/b.txt", "lab/files/conf/prog"} {
		st, err := os.Stat(filepath.Join(out, p))
		if err != nil {
			t.Errorf("archive lacks %s: %v", p, err)
			continue
		}
		if (p == "lab/run" || p == "lab/bin/0-prog") && st.Mode().Perm()&0o100 == 0 {
			t.Errorf("%s is not executable: %v", p, st.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "src/.git")); err == nil {
		t.Error("the skip function was not applied: src/.git is in the archive")
	}
	run, err := os.ReadFile(filepath.Join(out, "lab/run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"echo '@@lab feedface begin 0'",
		`(cd /src/pkg && exec env LVSD_LAB_FILES=/lab/files K=v 'A=b c' /lab/bin/0-prog -x 'it'\''s') 2>&1`,
		`echo "@@lab feedface end 0 $r"`,
		"(cd / && exec env LVSD_LAB_FILES=/lab/files K=v ipvsadm -Ln) 2>&1",
		"exit $rc",
	} {
		if !strings.Contains(string(run), want) {
			t.Errorf("/lab/run lacks %q:\n%s", want, run)
		}
	}
	// The script itself must be valid shell.
	if sh, err := exec.LookPath("sh"); err == nil {
		if b, err := exec.Command(sh, "-n", filepath.Join(out, "lab/run")).CombinedOutput(); err != nil {
			t.Errorf("sh -n /lab/run: %v: %s", err, b)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":       "plain",
		"-test.run":   "-test.run",
		"^TestKernel": "'^TestKernel'",
		"a b":         "'a b'",
		"it's":        `'it'\''s'`,
		"":            "''",
		"$HOME":       "'$HOME'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
