package director

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hangLimit is how long one input may take: far above the milliseconds
// a real configuration takes, with room for a loaded machine.
const hangLimit = 20 * time.Second

// FuzzParseConfig feeds arbitrary bytes to the decoder: it must never
// panic or hang, must return a Config exactly when there is no error, and
// a Config it returns must hold its invariants and render.
//
// Run it with
//
//	go test ./director -run '^$' -fuzz FuzzParseConfig -fuzzminimizetime 5s -fuzztime 5m
//
// (the examples are large seeds: without a short minimize time each new
// input is minimized for a minute). Findings land in testdata/fuzz and
// every `go test` replays them.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*.hcl")
	more, _ := filepath.Glob("../examples/*/*.hcl")
	bad, _ := filepath.Glob("testdata/bad/*.hcl")
	for _, p := range append(append(seeds, more...), bad...) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`virtual_server "a" { fwmark = 1 }`))
	f.Add([]byte(`locals { x = [for i in range(3) : i] }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		// Go's fuzzer has no per-input timeout: a hang would only show as
		// a stalled exec count. Crash the worker instead, so the input is
		// saved as a finding.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(hangLimit):
				panic(fmt.Sprintf("ParseConfig ran over %s on %q", hangLimit, src))
			}
		}()
		cfg, diags := ParseConfig(src, "fuzz.hcl", map[string]string{})
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("config nil: %v, errors: %v", cfg == nil, diags.HasErrors())
		}
		_ = FormatDiagnostics(diags, map[string][]byte{"fuzz.hcl": src})
		if cfg == nil {
			return
		}
		if len(cfg.Hash()) != 64 {
			t.Fatal("bad hash")
		}
		if _, err := cfg.JSON(); err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, cfg)
	})
}

// checkInvariants asserts what a valid Config promises its users.
func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	services := map[string]bool{}
	for _, vs := range cfg.VirtualServers {
		if len(vs.Services) == 0 {
			t.Fatalf("virtual server %q has no service", vs.Name)
		}
		for _, key := range vs.Services {
			if key.Family != vs.Family || services[key.String()] {
				t.Fatalf("service %s of %q: family %v, duplicate %v", key, vs.Name, key.Family, services[key.String()])
			}
			services[key.String()] = true
		}
		names := map[string]bool{}
		for _, rs := range vs.RealServers {
			if names[rs.Name] || rs.ID != vs.Name+"/"+rs.Name || strings.Contains(rs.Name, "/") {
				t.Fatalf("real server %q of %q: bad or duplicate name", rs.Name, vs.Name)
			}
			names[rs.Name] = true
			if !rs.Addr.IsValid() || rs.Weight > 65535 || (rs.LowerThreshold > rs.UpperThreshold) {
				t.Fatalf("real server %s: %+v", rs.ID, rs)
			}
			for _, c := range rs.Checks {
				if c.Kind != CheckNone && !c.Target.Addr().IsValid() {
					t.Fatalf("real server %s: check %s without target", rs.ID, c.Kind)
				}
				if c.Kind.needsPort() && c.Target.Port() == 0 {
					t.Fatalf("real server %s: %s check without port", rs.ID, c.Kind)
				}
			}
		}
	}
	for _, vi := range cfg.VRRPInstances {
		if vi.VRID == 0 || vi.Priority == 0 || len(vi.VirtualAddresses) == 0 || vi.Interface == "" {
			t.Fatalf("vrrp instance %+v", vi)
		}
		if vi.AuthPass != "" && vi.Version != 2 {
			t.Fatalf("vrrp instance %q: auth with v%d", vi.Name, vi.Version)
		}
	}
}
