package director

import (
	"slices"
	"strings"
	"testing"
)

// parse decodes src (which must be valid) for tests.
func parse(t testing.TB, src string) *Config {
	t.Helper()
	cfg, diags := ParseConfig([]byte(src), "test.hcl", nil)
	if diags.HasErrors() {
		t.Fatalf("config: %s", FormatDiagnostics(diags, map[string][]byte{"test.hcl": []byte(src)}))
	}
	return cfg
}

// tableLines renders the desired table as ipvsadm -S lines.
func tableLines(cfg *Config, in Inputs) []string {
	return strings.Split(strings.TrimSpace(Desired(cfg, in).String()), "\n")
}

const desiredSrc = `
virtual_server "web" {
  address       = "192.0.2.1:80"
  scheduler     = "wrr"
  drain_timeout = "30s"
  quorum        = 3
  hysteresis    = 2
  check "tcp" {}
  real_server {
    name    = "a"
    address = "10.0.1.1:80"
    weight  = 2
  }
  real_server {
    name    = "b"
    address = "10.0.1.2:80"
    weight  = 2
  }
  real_server {
    name               = "c"
    address            = "10.0.1.3:80"
    weight             = 1
    inhibit_on_failure = true
  }
  sorry_server {
    address = "10.0.9.9:8080"
  }
}
`

func TestDesired(t *testing.T) {
	cfg := parse(t, desiredSrc)
	const svc = "-A -t 192.0.2.1:80 -s wrr"
	a := "-a -t 192.0.2.1:80 -r 10.0.1.1:80 -m -w "
	b := "-a -t 192.0.2.1:80 -r 10.0.1.2:80 -m -w "
	c := "-a -t 192.0.2.1:80 -r 10.0.1.3:80 -m -w "
	sorry := "-a -t 192.0.2.1:80 -r 10.0.9.9:8080 -m -w 1"
	up := Health{Up: true}
	down := Health{}
	tests := []struct {
		name      string
		health    map[string]Health
		overrides map[string]Override
		quorum    map[string]bool
		want      []string
	}{
		{"all up", nil, nil, nil, []string{svc, a + "2", b + "2", c + "1"}},
		{"a down: out", map[string]Health{"web/a": down}, nil, nil, []string{svc, b + "2", c + "1"}},
		{"c down with inhibit: weight 0", map[string]Health{"web/c": down}, nil, nil, []string{svc, a + "2", b + "2", c + "0"}},
		{"dynamic weight", map[string]Health{"web/b": {Up: true, Dynamic: true, Weight: 7}}, nil, nil, []string{svc, a + "2", b + "7", c + "1"}},
		{"dynamic weight 0 stays in", map[string]Health{"web/b": {Up: true, Dynamic: true}}, nil, nil, []string{svc, a + "2", b + "0", c + "1"}},
		{"drain override: weight 0", nil, map[string]Override{"web/a": OverrideDrain}, nil, []string{svc, a + "0", b + "2", c + "1"}},
		{"disable override: out", nil, map[string]Override{"web/a": OverrideDisable}, nil, []string{svc, b + "2", c + "1"}},
		{"disable beats inhibit", nil, map[string]Override{"web/c": OverrideDisable}, nil, []string{svc, a + "2", b + "2"}},
		{"drained and down: out", map[string]Health{"web/a": down}, map[string]Override{"web/a": OverrideDrain}, nil, []string{svc, b + "2", c + "1"}},
		{"below quorum: the sorry server takes the traffic, up servers at weight 0",
			map[string]Health{"web/a": down, "web/b": up}, nil, map[string]bool{"web": false},
			[]string{svc, b + "0", c + "0", sorry}},
		{"quorum state given up wins over the weights (hysteresis)",
			map[string]Health{"web/a": down}, nil, map[string]bool{"web": true},
			[]string{svc, b + "2", c + "1"}},
		{"all down: only the sorry server and the inhibited one",
			map[string]Health{"web/a": down, "web/b": down, "web/c": down}, nil, nil,
			[]string{svc, c + "0", sorry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tableLines(cfg, Inputs{Health: tt.health, Overrides: tt.overrides, QuorumUp: tt.quorum})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if d := Desired(cfg, Inputs{}).Services()[0].DrainTimeout; d.Seconds() != 30 {
		t.Fatalf("drain timeout %v, want the virtual server's 30s", d)
	}
}

func TestDesiredSorryServerVariants(t *testing.T) {
	src := `
virtual_server "v" {
  addresses = ["192.0.2.1:80", "192.0.2.1:443"]
  forward   = "dr"
  check "icmp" {}
  real_server { address = "10.0.1.1" }
  sorry_server {
    address = "10.0.9.9"
    inhibit = true
  }
}
virtual_server "same" {
  address = "192.0.2.2:80"
  check "tcp" {}
  real_server { address = "10.0.1.1:80" }
  real_server { address = "10.0.1.2:80" }
  sorry_server {
    address = "10.0.1.2:80"
    inhibit = true
  }
}
`
	cfg := parse(t, src)
	tests := []struct {
		name   string
		health map[string]Health
		want   []string
	}{
		{"inhibited sorry server at weight 0 on every service; a real server at its address wins", nil, []string{
			"-A -t 192.0.2.1:80 -s wlc",
			"-a -t 192.0.2.1:80 -r 10.0.1.1:80 -g -w 1",
			"-a -t 192.0.2.1:80 -r 10.0.9.9:80 -g -w 0",
			"-A -t 192.0.2.1:443 -s wlc",
			"-a -t 192.0.2.1:443 -r 10.0.1.1:443 -g -w 1",
			"-a -t 192.0.2.1:443 -r 10.0.9.9:443 -g -w 0",
			"-A -t 192.0.2.2:80 -s wlc",
			"-a -t 192.0.2.2:80 -r 10.0.1.1:80 -m -w 1",
			"-a -t 192.0.2.2:80 -r 10.0.1.2:80 -m -w 1",
		}},
		{"below quorum: weight 1; the sorry server replaces a real server at its address",
			map[string]Health{"v/10.0.1.1": {}, "same/10.0.1.1:80": {}}, []string{
				"-A -t 192.0.2.1:80 -s wlc",
				"-a -t 192.0.2.1:80 -r 10.0.9.9:80 -g -w 1",
				"-A -t 192.0.2.1:443 -s wlc",
				"-a -t 192.0.2.1:443 -r 10.0.9.9:443 -g -w 1",
				"-A -t 192.0.2.2:80 -s wlc",
				"-a -t 192.0.2.2:80 -r 10.0.1.2:80 -m -w 1",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// "same" keeps quorum with one server up: force it down.
			in := Inputs{Health: tt.health}
			if tt.health != nil {
				in.QuorumUp = map[string]bool{"same": false}
			}
			got := tableLines(cfg, in)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestQuorum(t *testing.T) {
	cfg := parse(t, desiredSrc) // quorum 3, hysteresis 2; weights 2, 2, 1
	vs := cfg.VirtualServers[0]
	tests := []struct {
		name   string
		health map[string]Health
		over   map[string]Override
		weight uint64
		wasUp  bool
		up     bool
	}{
		{"all up: 5", nil, nil, 5, true, true},
		{"exactly quorum stays up", map[string]Health{"web/a": {}}, nil, 3, true, true},
		{"below quorum goes down", map[string]Health{"web/a": {}, "web/c": {}}, nil, 2, true, false},
		{"down: quorum is not enough", map[string]Health{"web/a": {}}, nil, 3, false, false},
		{"down: quorum + hysteresis - 1 is not enough", map[string]Health{"web/c": {}}, nil, 4, false, false},
		{"down: back at quorum + hysteresis", nil, nil, 5, false, true},
		{"drained servers do not count", nil, map[string]Override{"web/a": OverrideDrain, "web/b": OverrideDisable}, 1, true, false},
		{"dynamic weight counts", map[string]Health{"web/a": {Up: true, Dynamic: true, Weight: 10}}, nil, 13, false, true},
		{"inhibited down server counts nothing", map[string]Health{"web/a": {}, "web/b": {}}, nil, 1, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Inputs{Health: tt.health, Overrides: tt.over}
			w := WeightUp(vs, in)
			if w != tt.weight {
				t.Fatalf("weight up %d, want %d", w, tt.weight)
			}
			if got := QuorumAfter(vs, w, tt.wasUp); got != tt.up {
				t.Fatalf("quorum after %d from up=%v: %v, want %v", w, tt.wasUp, got, tt.up)
			}
		})
	}

	zero := parse(t, `virtual_server "z" {
  address = "192.0.2.1:80"
  quorum  = 0
}`).VirtualServers[0]
	if !QuorumAfter(zero, 0, false) || !QuorumUp(zero, Inputs{}) {
		t.Fatal("quorum 0 with no real servers should be up")
	}
	none := parse(t, `virtual_server "n" { address = "192.0.2.1:80" }`).VirtualServers[0]
	if QuorumUp(none, Inputs{}) {
		t.Fatal("the default quorum 1 with no real servers should be down")
	}
}

func TestParseOverride(t *testing.T) {
	for in, want := range map[string]Override{"drain": OverrideDrain, "DISABLE": OverrideDisable, "enable": OverrideNone, "": OverrideNone} {
		if got, err := ParseOverride(in); err != nil || got != want {
			t.Errorf("ParseOverride(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseOverride("maintenance"); err == nil {
		t.Error("an unknown override was accepted")
	}
}
