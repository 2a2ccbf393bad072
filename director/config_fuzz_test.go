package director

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// FuzzVirtualServerValues fuzzes the values of a well-formed
// configuration rather than its syntax, reaching the checks that random
// bytes rarely get past the parser to.
func FuzzVirtualServerValues(f *testing.F) {
	f.Add("192.0.2.1:80", "10.0.0.1:8080", "wlc", "nat", "24", "1s", "200-299", "10.0.0.100/24", int64(1), int64(51))
	f.Add("[2001:db8::1]:443", "2001:db8::10", "mh", "dr", "/64", "100ms", "200", "2001:db8::100/64", int64(0), int64(1))
	f.Add("192.0.2.1:0", "10.0.0.1", "sh", "tun", "255.255.0.0", "1m30s", "300-399", "192.0.2.1", int64(65535), int64(255))
	f.Fuzz(func(t *testing.T, vip, rs, sched, fwd, netmask, interval, status, vrrpVIP string, weight, vrid int64) {
		src := fmt.Sprintf(`
virtual_server "v" {
  address   = %s
  scheduler = %s
  forward   = %s
  persistence {
    timeout = "60s"
    netmask = %s
  }
  check "http" {
    interval = %s
    status   = [%s]
  }
  real_server {
    address = %s
    weight  = %d
  }
}
vrrp_instance "i" {
  interface         = "eth0"
  vrid              = %d
  version           = 3
  advert_interval   = %s
  virtual_addresses = [%s]
}
`, hclQuote(vip), hclQuote(sched), hclQuote(fwd), hclQuote(netmask), hclQuote(interval), hclQuote(status), hclQuote(rs), weight, vrid, hclQuote(interval), hclQuote(vrrpVIP))
		cfg, diags := ParseConfig([]byte(src), "v.hcl", nil)
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("config nil: %v, errors: %v", cfg == nil, diags.HasErrors())
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic without a position: %s", d.Error())
			}
		}
		if cfg == nil {
			return
		}
		checkInvariants(t, cfg)
		vs := cfg.VirtualServers[0]
		if vs.Scheduler != sched || vs.RealServers[0].Weight != uint32(weight) || cfg.VRRPInstances[0].VRID != uint8(vrid) {
			t.Fatalf("decoded %+v from %q", vs, src)
		}
	})
}

// hclQuote writes s as an HCL string literal whose value is exactly s.
func hclQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		case (r == '$' || r == '%') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteRune(r)
			b.WriteRune(r) // "$${" is a literal "${"
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
