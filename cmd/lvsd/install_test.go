package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall runs make install into a DESTDIR: the binary, the unit
// pointing at it, the completions, and the example configuration, which a
// second install leaves alone.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lvsd (skipped in -short mode; make test runs it)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on this host")
	}
	dest, build := t.TempDir(), t.TempDir()
	install := func() string {
		t.Helper()
		cmd := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/usr/local", "BIN="+filepath.Join(build, "lvsd"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
		return string(out)
	}
	install()
	for path, mode := range map[string]os.FileMode{
		"usr/local/sbin/lvsd":                                 0o755,
		"usr/local/lib/systemd/system/lvsd.service":           0o644,
		"usr/local/share/bash-completion/completions/lvsd":    0o644,
		"usr/local/share/zsh/site-functions/_lvsd":            0o644,
		"usr/local/share/fish/vendor_completions.d/lvsd.fish": 0o644,
		"etc/lvsd/lvsd.hcl":                                   0o644,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != mode || fi.Size() == 0 {
			t.Errorf("%s: mode %v, %d bytes", path, fi.Mode(), fi.Size())
		}
	}
	unit := readFile(t, filepath.Join(dest, "usr/local/lib/systemd/system/lvsd.service"))
	if !strings.Contains(unit, "ExecStart=/usr/local/sbin/lvsd run -c ${LVSD_CONFIG}") || strings.Contains(unit, "/usr/sbin/lvsd") {
		t.Errorf("the unit does not run the installed binary:\n%s", unit)
	}
	bin := filepath.Join(dest, "usr/local/sbin/lvsd")
	cfg := filepath.Join(dest, "etc/lvsd/lvsd.hcl")
	if out, err := exec.Command(bin, "validate", "-c", cfg).CombinedOutput(); err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("the installed configuration does not validate: %v\n%s", err, out)
	}
	// An operator's configuration survives a reinstall.
	writeFile(t, cfg, "node_name = \"mine\"\n")
	if out := install(); !strings.Contains(out, "exists: left as it is") {
		t.Errorf("second install:\n%s", out)
	}
	if got := readFile(t, cfg); got != "node_name = \"mine\"\n" {
		t.Errorf("the configuration was overwritten: %q", got)
	}
}
