package director

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lvsd/checkers"
)

func TestCheckDefinitions(t *testing.T) {
	cfg := parse(t, `
node_name = "lb1"
virtual_server "v" {
  address = "192.0.2.1:80"
  real_server {
    name    = "web1"
    address = "10.0.1.1:8080"
    weight  = 7
    check "https" {
      path       = "/health"
      host       = "www.example.com"
      status     = ["200", "301-302"]
      body_md5   = "0123456789abcdef0123456789abcdef"
      tls_verify = true
      warmup     = "0s"
      interval   = "3s"
    }
    check "udp" {
      port = 53
      send = "ping"
    }
    check "dns" {
      port      = 53
      name      = "canary.example.com"
      transport = "tcp"
    }
    check "exec" {
      command        = ["/usr/local/bin/probe", "--deep"]
      env            = { MODE = "full" }
      dynamic_weight = true
      start_down     = true
    }
    check "icmp" {
      address = "10.0.1.2"
    }
  }
  real_server {
    address = "10.0.1.3:80"
    check "none" {}
  }
}
`)
	regs, err := registrations(cfg, map[string]bool{"v/web1": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(regs) != 5 {
		t.Fatalf("%d registrations, want 5 (none registers nothing)", len(regs))
	}
	for _, r := range regs {
		if r.Owner != "v/web1" || !r.AssumeUp {
			t.Fatalf("registration %+v", r)
		}
		if err := r.Check.Validate(); err != nil {
			t.Fatalf("invalid definition: %v", err)
		}
	}
	target := netip.MustParseAddrPort("10.0.1.1:8080")
	https := regs[0].Check
	wantHTTPS := checkers.Definition{
		Target:   target,
		Settings: checkers.Settings{Interval: 3 * time.Second, RetryInterval: 3 * time.Second, Timeout: 2 * time.Second, Rise: 2, Fall: 3, Warmup: -1},
		Spec: checkers.HTTPSpec{TLS: true, Method: "GET", Path: "/health", Host: "www.example.com",
			Status: checkers.StatusCodes{{From: 200, To: 200}, {From: 301, To: 302}}, Digest: "md5:0123456789abcdef0123456789abcdef",
			MaxBody: DefaultMaxBodyBytes, SNI: "www.example.com"},
	}
	if diff := cmp.Diff(wantHTTPS, https, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("https (-want +got):\n%s", diff)
	}
	if s := regs[1].Check.Spec.(checkers.UDPSpec); string(s.Payload) != "ping" || !s.NoReplyOK || regs[1].Check.Target.Port() != 53 {
		t.Errorf("udp %+v", regs[1].Check)
	}
	if s := regs[2].Check.Spec.(checkers.DNSSpec); !s.TCP || s.Name != "canary.example.com." || s.Type != "A" {
		t.Errorf("dns %+v", s)
	}
	e := regs[3].Check
	es := e.Spec.(checkers.ExecSpec)
	wantEnv := []string{"LVSD_NODE=lb1", "LVSD_VS=v", "LVSD_VS_SERVICES=tcp 192.0.2.1:80", "LVSD_RS=v/web1",
		"LVSD_RS_ADDR=10.0.1.1:8080", "LVSD_RS_WEIGHT=7", "MODE=full"}
	if !slices.Equal(es.Env, wantEnv) || !es.DynamicWeight || !e.Settings.StartDown || !slices.Equal(es.Command, []string{"/usr/local/bin/probe", "--deep"}) {
		t.Errorf("exec %+v", e)
	}
	if i := regs[4].Check; i.Target != netip.MustParseAddrPort("10.0.1.2:0") || i.Spec.Kind() != checkers.KindICMP || i.Settings.Warmup != 5*time.Second {
		t.Errorf("icmp %+v", i)
	}
	if checked(cfg.VirtualServers[0].RealServers[1]) {
		t.Error("a none check counts as a check")
	}
}

// TestCheckDefinitionDefaults: a bare check gets docs/config.md's
// defaults, and https does not verify unless asked (as keepalived).
func TestCheckDefinitionDefaults(t *testing.T) {
	cfg := parse(t, `
virtual_server "v" {
  address = "192.0.2.1:443"
  check "https" {}
  real_server { address = "10.0.1.1:443" }
}
`)
	regs, err := registrations(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := regs[0].Check
	if s := d.Settings; s.Interval != 5*time.Second || s.Timeout != 2*time.Second || s.Rise != 2 || s.Fall != 3 || s.Warmup != 5*time.Second || s.StartDown {
		t.Errorf("settings %+v", s)
	}
	if s := d.Spec.(checkers.HTTPSpec); !s.Insecure || !s.TLS {
		t.Errorf("https %+v, want no verification by default", s)
	}
}

// Every example's checks map onto definitions the checkers accept.
func TestExampleChecksAreValid(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.hcl")
	files = append(files, "../examples/conf.d")
	for _, f := range files {
		cfg, diags := LoadConfig(f, nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, FormatDiagnostics(diags, nil))
		}
		regs, err := registrations(cfg, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range regs {
			if err := r.Check.Validate(); err != nil {
				t.Errorf("%s: %s: %v", f, r.Owner, err)
			}
		}
		if tbl := Desired(cfg, Inputs{}); tbl.Validate() != nil {
			t.Errorf("%s: desired table: %v", f, tbl.Validate())
		}
	}
}
