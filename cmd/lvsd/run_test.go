package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director"
)

// mainEnv makes the test binary run lvsd's main instead of the tests: the
// kernel tests start the daemon as a process this way (the lab VM cannot
// build one), as `os.Args[0] run -c ...` with mainEnv=1.
const mainEnv = "LVSD_TEST_MAIN"

// memoryEnv makes the re-executed daemon program an in-memory IPVS
// table instead of the kernel's: the control API, metrics and CLI tests
// run the real daemon process on hosts without IPVS. (Only the test
// binary has this switch.)
const memoryEnv = "LVSD_TEST_MEMORY_IPVS"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		if os.Getenv(memoryEnv) == "1" {
			openBackend = func() (daemonBackend, error) { return newFakeKernel(), nil }
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPlanOffline(t *testing.T) {
	stdout, stderr, code := runLVSD(t, "plan", "-c", "../../examples/dr-web.hcl", "--offline")
	want := `-A -t 192.0.2.80:80 -s mh -b mh-fallback
-a -t 192.0.2.80:80 -r 192.0.2.11:80 -g -w 1
-a -t 192.0.2.80:80 -r 192.0.2.12:80 -g -w 1
-a -t 192.0.2.80:80 -r 192.0.2.13:80 -g -w 1
-a -t 192.0.2.80:80 -r 192.0.2.14:80 -g -w 1 -x 2000 -y 1500
-A -t 192.0.2.80:443 -s mh -b mh-fallback
-a -t 192.0.2.80:443 -r 192.0.2.11:443 -g -w 1
-a -t 192.0.2.80:443 -r 192.0.2.12:443 -g -w 1
-a -t 192.0.2.80:443 -r 192.0.2.13:443 -g -w 1
-a -t 192.0.2.80:443 -r 192.0.2.14:443 -g -w 1 -x 2000 -y 1500
# 10 operations: 10 to add, 0 to change, 0 to delete
`
	if code != 0 || stdout != want || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}
	if _, _, code := runLVSD(t, "plan", "-c", "../../examples/dr-web.hcl", "--offline", "--detailed-exitcode"); code != 2 {
		t.Fatalf("--detailed-exitcode with changes: exit %d, want 2", code)
	}
	empty := filepath.Join(t.TempDir(), "empty.hcl")
	os.WriteFile(empty, []byte("node_name = \"x\"\n"), 0o644)
	stdout, _, code = runLVSD(t, "plan", "-c", empty, "--offline", "--detailed-exitcode")
	if code != 0 || !strings.HasPrefix(stdout, "# no changes") {
		t.Fatalf("no changes: exit %d, %q", code, stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("virtual_server \"x\" { address = 1 }\n"), 0o644)
	if _, stderr, code := runLVSD(t, "plan", "-c", bad, "--offline"); code != 2 || !strings.Contains(stderr, "Error:") {
		t.Fatalf("invalid config: exit %d, stderr %q", code, stderr)
	}
	if _, _, code := runLVSD(t, "plan", "-c", bad, "--offline", "--detailed-exitcode"); code != 1 {
		t.Fatalf("invalid config with --detailed-exitcode: exit %d, want 1", code)
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("virtual_server \"x\" { address = 1 }\n"), 0o644)
	if _, stderr, code := runLVSD(t, "run", "-c", bad); code != 2 || !strings.Contains(stderr, "invalid configuration") {
		t.Fatalf("invalid config: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := runLVSD(t, "run", "-c", "../../examples/dr-web.hcl", "--log-level", "loud"); code != 2 || !strings.Contains(stderr, `log level "loud"`) {
		t.Fatalf("bad log level: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := runLVSD(t, "run", "-c", "../../examples/dr-web.hcl", "--netns", "/nonexistent/ns"); code != 1 || !strings.Contains(stderr, "--netns /nonexistent/ns") {
		t.Fatalf("bad netns: exit %d, stderr %q", code, stderr)
	}
}

func TestConfigureLogging(t *testing.T) {
	log := logrus.New()
	if err := configureLogging(log, director.Logging{Level: "warn", Format: "json"}, logFlags{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := log.Formatter.(*logrus.JSONFormatter); !ok || log.Level != logrus.WarnLevel {
		t.Fatalf("config: %T %v", log.Formatter, log.Level)
	}
	if err := configureLogging(log, director.Logging{Level: "warn", Format: "json"}, logFlags{level: "debug", format: "text"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := log.Formatter.(*logrus.TextFormatter); !ok || log.Level != logrus.DebugLevel {
		t.Fatalf("flags: %T %v", log.Formatter, log.Level)
	}
	if err := configureLogging(log, director.Logging{Level: "info", Format: "xml"}, logFlags{}); err == nil {
		t.Fatal("format xml accepted")
	}
}

func TestNotifier(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	n := newNotifier()
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t.Fatal("NOTIFY_SOCKET left for children")
	}
	if err := n.send("RELOADING=1", "MONOTONIC_USEC="+monotonicUsec()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(buf[:k]), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || lines[1] == "MONOTONIC_USEC=0" {
		t.Fatalf("datagram %q", buf[:k])
	}
	var none *notifier
	if err := none.send("READY=1"); err != nil {
		t.Fatal("a nil notifier failed")
	}
}
