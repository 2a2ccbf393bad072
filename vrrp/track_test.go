package vrrp

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTrackSetEffective(t *testing.T) {
	tracks := []Track{
		{Kind: TrackInterface, Name: "eth1"},                           // unweighted: fault while down
		{Kind: TrackScript, Name: "up10", Weight: 10},                  // +10 while up
		{Kind: TrackScript, Name: "down20", Weight: -20},               // -20 while down
		{Kind: TrackScript, Name: "rev5", Weight: 5, Reverse: true},    // -5 while up
		{Kind: TrackScript, Name: "revneg", Weight: -7, Reverse: true}, // +7 while down
		{Kind: TrackExternal, Name: "vs:web", Reverse: true},           // weight 0 reverse: fault while up
	}
	tests := []struct {
		name      string
		base      uint8
		down      []string // keys set down; the rest up
		wantPrio  uint8
		wantFault string
	}{
		{"all up", 100, nil, 100 + 10 - 5, "vs:web"},
		{"reverse object down clears its fault", 100, []string{"vs:web"}, 105, ""},
		{"interface down faults", 100, []string{"vs:web", "interface:eth1"}, 105, "interface:eth1"},
		{"positive weight lost when down", 100, []string{"vs:web", "script:up10"}, 95, ""},
		{"negative weight when down", 100, []string{"vs:web", "script:down20"}, 85, ""},
		{"reverse positive off when down", 100, []string{"vs:web", "script:rev5"}, 110, ""},
		{"reverse negative adds when down", 100, []string{"vs:web", "script:revneg"}, 112, ""},
		{"clamped at 254", 250, []string{"vs:web"}, 254, ""},
		{"clamped at 1", 10, []string{"vs:web", "script:down20", "script:up10"}, 1, ""},
		{"owner never moves", 255, []string{"vs:web", "script:down20"}, 255, ""},
		{"two faults listed", 100, []string{"interface:eth1"}, 105, "interface:eth1, vs:web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTrackSet(tt.base, tracks)
			for _, k := range tt.down {
				if !ts.set(k, false) {
					t.Fatalf("set %s down: not tracked or no change", k)
				}
			}
			p, f := ts.effective()
			if p != tt.wantPrio || f != tt.wantFault {
				t.Fatalf("priority %d fault %q, want %d %q", p, f, tt.wantPrio, tt.wantFault)
			}
		})
	}
	ts := newTrackSet(100, tracks)
	if ts.set("script:nope", false) || ts.set("script:up10", true) {
		t.Fatal("unknown key or unchanged state reported a change")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 100,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.0.0.100/24")}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	v6 := good
	v6.VIPs = []VIP{{Prefix: netip.MustParsePrefix("fe80::100/64")}, {Prefix: netip.MustParsePrefix("2001:db8::100/64")}}
	if err := v6.Validate(); err != nil {
		t.Fatalf("IPv6 config: %v", err)
	}
	tests := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "needs a name"},
		{"no interface", func(c *Config) { c.Interface = "" }, "needs an interface"},
		{"vrid 0", func(c *Config) { c.VRID = 0 }, "vrid"},
		{"priority 0", func(c *Config) { c.Priority = 0 }, "priority"},
		{"version 4", func(c *Config) { c.Version = 4 }, "version 4"},
		{"v2 fractional interval", func(c *Config) { c.Version = 2; c.AdvertInterval = 1500 * time.Millisecond }, "whole seconds"},
		{"v3 5ms", func(c *Config) { c.AdvertInterval = 5 * time.Millisecond }, "centiseconds"},
		{"v3 auth", func(c *Config) { c.AuthPass = "x" }, "v2 only"},
		{"long password", func(c *Config) { c.Version = 2; c.AuthPass = "123456789" }, "first 8"},
		{"v2 IPv6", func(c *Config) { c.Version = 2; c.VIPs = v6.VIPs }, "IPv4 only"},
		{"no VIPs", func(c *Config) { c.VIPs = nil }, "at least one"},
		{"mixed families", func(c *Config) { c.VIPs = append(c.VIPs, VIP{Prefix: netip.MustParsePrefix("fe80::1/64")}) }, "one family"},
		{"duplicate VIP", func(c *Config) { c.VIPs = append(c.VIPs, c.VIPs[0]) }, "twice"},
		{"peer family", func(c *Config) { c.Peers = []netip.Addr{netip.MustParseAddr("fe80::2")} }, "peer"},
		{"nopreempt owner", func(c *Config) { c.Priority = 255; c.NoPreempt = true }, "owner"},
		{"delay with nopreempt", func(c *Config) { c.NoPreempt = true; c.PreemptDelay = time.Second }, "no effect"},
		{"weight range", func(c *Config) { c.Track = []Track{{Kind: TrackScript, Name: "x", Weight: 300}} }, "-253..253"},
		{"track kind", func(c *Config) { c.Track = []Track{{Kind: "file", Name: "x"}} }, "unknown kind"},
		{"track twice", func(c *Config) {
			c.Track = []Track{{Kind: TrackScript, Name: "x"}, {Kind: TrackScript, Name: "x", Weight: 2}}
		}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			c.VIPs = append([]VIP(nil), good.VIPs...)
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// Every problem is reported at once.
	bad := Config{}
	if n := strings.Count(bad.Validate().Error(), "\n") + 1; n < 5 {
		t.Fatalf("empty config gave %d errors, want all of them: %v", n, bad.Validate())
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vrrp.state")
	f := NewStateFile(path)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for _, n := range []string{"VI_2", "VI_1", "VI_3"} {
		wg.Add(1)
		go func() { defer wg.Done(); f.Set("INSTANCE", n, "BACKUP", 100, at) }()
	}
	wg.Wait()
	if err := f.Set("INSTANCE", "VI_2", "MASTER", 150, at); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("GROUP", "G1", "MASTER", 0, at); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "GROUP G1 MASTER 0 2025-01-02T03:04:05Z\n" +
		"INSTANCE VI_1 BACKUP 100 2025-01-02T03:04:05Z\n" +
		"INSTANCE VI_2 MASTER 150 2025-01-02T03:04:05Z\n" +
		"INSTANCE VI_3 BACKUP 100 2025-01-02T03:04:05Z\n"
	if string(b) != want {
		t.Fatalf("state file:\n%s\nwant:\n%s", b, want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d files, want only the state file (no temporaries)", len(ents))
	}
	if err := NewStateFile(filepath.Join(dir, "missing", "x")).Set("INSTANCE", "a", "MASTER", 1, at); err == nil {
		t.Fatal("writing into a missing directory did not fail")
	}
}
