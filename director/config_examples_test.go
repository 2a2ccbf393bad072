package director

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// validateLineRE finds the extra variable sets an example asks to be
// validated with: "# validate: -var node=lb2 -var x=y".
var validateLineRE = regexp.MustCompile(`(?m)^# validate:(.*)$`)

// TestExamples validates every configuration in examples/ (each *.hcl
// file, and each directory as one configuration): with its defaults and
// with every variable set its "# validate:" lines name. An example must be
// clean: no error, no warning.
func TestExamples(t *testing.T) {
	entries, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".hcl") {
			paths = append(paths, filepath.Join("../examples", e.Name()))
		}
	}
	if len(paths) < 9 {
		t.Fatalf("only %d examples: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			variants := []map[string]string{nil}
			files := []string{path}
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				files, _ = filepath.Glob(filepath.Join(path, "*.hcl"))
			}
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(src), "#") && f == files[0] {
					t.Errorf("%s does not start with a comment saying what it shows", f)
				}
				for _, m := range validateLineRE.FindAllStringSubmatch(string(src), -1) {
					vars := map[string]string{}
					fields := strings.Fields(m[1])
					for i := 0; i+1 < len(fields); i += 2 {
						if fields[i] != "-var" {
							t.Fatalf("%s: bad validate line %q", f, m[0])
						}
						k, v, _ := strings.Cut(fields[i+1], "=")
						vars[k] = v
					}
					variants = append(variants, vars)
				}
			}
			for _, vars := range variants {
				cfg, diags := LoadConfig(path, vars)
				if len(diags) > 0 {
					t.Errorf("vars %v:\n%s", vars, FormatDiagnostics(diags, nil))
					continue
				}
				if len(cfg.VirtualServers) == 0 || cfg.RealServerCount() == 0 {
					t.Errorf("vars %v: no virtual or real server", vars)
				}
			}
		})
	}
}

// TestExampleDetails checks what some examples are there to show.
func TestExampleDetails(t *testing.T) {
	load := func(path string, vars map[string]string) *Config {
		t.Helper()
		cfg, diags := LoadConfig(filepath.Join("../examples", path), vars)
		if diags.HasErrors() {
			t.Fatal(FormatDiagnostics(diags, nil))
		}
		return cfg
	}
	if cfg := load("fifty-servers.hcl", nil); cfg.RealServerCount() != 100 || cfg.VirtualServer("web-https").RealServers[49].Name != "web50" {
		t.Errorf("fifty-servers: %d real servers", cfg.RealServerCount())
	}
	for node, wantPrio := range map[string]uint8{"lb1": 150, "lb2": 100} {
		cfg := load("ha-pair.hcl", map[string]string{"node": node})
		vi := cfg.VRRPInstance("outside")
		if vi.Priority != wantPrio || len(vi.UnicastPeers) != 1 || vi.UnicastPeers[0] == vi.UnicastSource || vi.SyncGroup != "director" {
			t.Errorf("ha-pair %s: %+v", node, vi)
		}
	}
	for node, master := range map[string]string{"lb1": "vip-a", "lb2": "vip-b"} {
		cfg := load("dual-master.hcl", map[string]string{"node": node})
		for _, vi := range cfg.VRRPInstances {
			if (vi.Priority == 150) != (vi.Name == master) {
				t.Errorf("dual-master %s: %s has priority %d", node, vi.Name, vi.Priority)
			}
		}
	}
	if cfg := load("fwmark-sticky.hcl", nil); cfg.VirtualServers[0].Services[0].FWMark != 1 || cfg.VirtualServers[0].Persistence.PrefixLen != 24 {
		t.Errorf("fwmark-sticky: %+v", cfg.VirtualServers[0])
	}
}

// TestReadmeConfig loads the README's configuration walkthrough: its first
// HCL block alone, then with the blocks after it added (they refer to the
// virtual server the first declares). The front page must not show a file
// that lvsd refuses or warns about.
func TestReadmeConfig(t *testing.T) {
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindAllStringSubmatch(string(src), -1)
	if len(blocks) < 2 {
		t.Fatalf("the README shows %d HCL blocks, want the walkthrough's 2 or more", len(blocks))
	}
	var all strings.Builder
	for i, b := range blocks {
		all.WriteString(b[1] + "\n")
		path := filepath.Join(t.TempDir(), "readme.hcl")
		if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, diags := LoadConfig(path, nil); len(diags) > 0 {
			t.Errorf("README HCL blocks 1 to %d:\n%s", i+1, FormatDiagnostics(diags, nil))
		}
	}
}
