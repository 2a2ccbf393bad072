package checkers

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestHysteresis(t *testing.T) {
	tests := []struct {
		name       string
		startUp    bool
		rise, fall int
		results    string // o = success, x = failure
		want       string // verdict after each result: U or D
	}{
		{"stays up", true, 2, 3, "oooo", "UUUU"},
		{"down after exactly fall", true, 2, 3, "xxx", "UUD"},
		{"a success resets the failures", true, 2, 3, "xxoxxox", "UUUUUUU"},
		{"up after exactly rise", false, 2, 3, "oo", "DU"},
		{"a failure resets the successes", false, 3, 1, "ooxooo", "DDDDDU"},
		{"fall 1 rise 1 follows every result", true, 1, 1, "xoxo", "DUDU"},
		{"full cycle", true, 2, 2, "xxooxx", "UDDUUD"},
		{"start down stays down on failures", false, 2, 3, "xxxx", "DDDD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hysteresis{up: tt.startUp}
			var got strings.Builder
			changes := 0
			prev := h.up
			for _, r := range tt.results {
				if h.observe(r == 'o', tt.rise, tt.fall) {
					changes++
				}
				if h.up {
					got.WriteByte('U')
				} else {
					got.WriteByte('D')
				}
				if h.up != prev && h.streak != 0 {
					t.Errorf("streak %d after a change, want 0", h.streak)
				}
				prev = h.up
			}
			if got.String() != tt.want {
				t.Errorf("verdicts %s, want %s", got.String(), tt.want)
			}
			wantChanges := 0
			last := byte('D')
			if tt.startUp {
				last = 'U'
			}
			for i := 0; i < len(tt.want); i++ {
				if tt.want[i] != last {
					wantChanges++
					last = tt.want[i]
				}
			}
			if changes != wantChanges {
				t.Errorf("observe reported %d changes, want %d", changes, wantChanges)
			}
		})
	}
}

func TestParseStatusCodes(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
		in200   bool
		in404   bool
	}{
		{in: "200-299", want: "200-299", in200: true},
		{in: "200", want: "200", in200: true},
		{in: "200 301 302", want: "200,301,302", in200: true},
		{in: "200-299,404", want: "200-299,404", in200: true, in404: true},
		{in: " 404 ,  500-599 ", want: "404,500-599", in404: true},
		{in: "", wantErr: true},
		{in: "2xx", wantErr: true},
		{in: "299-200", wantErr: true},
		{in: "99", wantErr: true},
		{in: "600", wantErr: true},
		{in: "200-", wantErr: true},
		{in: "-200", wantErr: true},
		{in: "200-300-400", wantErr: true},
		{in: "+20", wantErr: true},
		{in: "0200", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseStatusCodes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseStatusCodes(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParseStatusCodes(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if got.Contains(200) != tt.in200 || got.Contains(404) != tt.in404 {
			t.Errorf("ParseStatusCodes(%q): Contains(200)=%v Contains(404)=%v", tt.in, got.Contains(200), got.Contains(404))
		}
	}
}

// FuzzParseStatusCodes: never panics; what parses is valid and survives a
// round trip through its canonical form.
func FuzzParseStatusCodes(f *testing.F) {
	for _, s := range []string{"200-299", "200 301,302", "404", "", "599-100", "1-2-3", "200,,300", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseStatusCodes(s)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseStatusCodes(%q) = %v, which does not validate: %v", s, c, err)
		}
		again, err := ParseStatusCodes(c.String())
		if err != nil || again.String() != c.String() {
			t.Fatalf("round trip of %q: %q -> %v, %v", s, c.String(), again, err)
		}
		for code := 100; code <= 599; code++ {
			if c.Contains(code) != again.Contains(code) {
				t.Fatalf("round trip of %q changes membership of %d", s, code)
			}
		}
	})
}

func TestParseDigest(t *testing.T) {
	md5hex := "9b3a0c85a887a256d6939da88aabd8cd"
	sha := strings.Repeat("ab", 32)
	tests := []struct {
		in, alg, sum string
		wantErr      bool
	}{
		{in: ""},
		{in: md5hex, alg: "md5", sum: md5hex},
		{in: strings.ToUpper(md5hex), alg: "md5", sum: md5hex},
		{in: "md5:" + md5hex, alg: "md5", sum: md5hex},
		{in: "SHA256:" + sha, alg: "sha256", sum: sha},
		{in: sha, alg: "sha256", sum: sha},
		{in: "md5:" + sha, wantErr: true},
		{in: "sha1:" + md5hex, wantErr: true},
		{in: "zz" + md5hex[2:], wantErr: true},
		{in: "abc", wantErr: true},
	}
	for _, tt := range tests {
		alg, sum, err := parseDigest(tt.in)
		if (err != nil) != tt.wantErr || alg != tt.alg || sum != tt.sum {
			t.Errorf("parseDigest(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, alg, sum, err, tt.alg, tt.sum, tt.wantErr)
		}
	}
}

func TestSettingsDefaults(t *testing.T) {
	s := Settings{}.WithDefaults()
	if s.Interval != 2*time.Second || s.Timeout != 2*time.Second || s.Rise != 2 || s.Fall != 3 ||
		s.Warmup != 2*time.Second || s.RetryInterval != 2*time.Second || s.StartDown {
		t.Fatalf("defaults = %+v", s)
	}
	s = Settings{Interval: 500 * time.Millisecond}.WithDefaults()
	if s.Timeout != 500*time.Millisecond || s.Warmup != 500*time.Millisecond {
		t.Fatalf("timeout and warmup do not follow a short interval: %+v", s)
	}
	if s := (Settings{Warmup: -time.Second}).WithDefaults(); s.Warmup >= 0 {
		t.Fatalf("negative warmup became %v", s.Warmup)
	}
}

func TestDefinitionValidate(t *testing.T) {
	rs := netip.MustParseAddrPort("10.0.1.2:80")
	rs6 := netip.MustParseAddrPort("[fd00::2]:80")
	tests := []struct {
		name    string
		def     Definition
		wantErr string
	}{
		{"tcp ok", Definition{Target: rs, Spec: TCPSpec{}}, ""},
		{"no kind", Definition{Target: rs}, "no kind"},
		{"no port", Definition{Target: netip.AddrPortFrom(rs.Addr(), 0), Spec: TCPSpec{}}, "no port"},
		{"port override", Definition{Target: netip.AddrPortFrom(rs.Addr(), 0), Settings: Settings{Port: 8080}, Spec: TCPSpec{}}, ""},
		{"icmp needs no port", Definition{Target: netip.AddrPortFrom(rs.Addr(), 0), Spec: ICMPSpec{}}, ""},
		{"exec needs no port", Definition{Target: netip.AddrPortFrom(rs.Addr(), 0), Spec: ExecSpec{Command: []string{"/bin/true"}}}, ""},
		{"exec needs a command", Definition{Target: rs, Spec: ExecSpec{}}, "no command"},
		{"family mismatch", Definition{Target: rs6, Settings: Settings{Source: netip.MustParseAddr("10.0.0.1")}, Spec: TCPSpec{}}, "different address families"},
		{"rise 0 is the default", Definition{Target: rs, Settings: Settings{Rise: 0}, Spec: TCPSpec{}}, ""},
		{"negative fall", Definition{Target: rs, Settings: Settings{Fall: -1}, Spec: TCPSpec{}}, "fall -1"},
		{"tiny interval", Definition{Target: rs, Settings: Settings{Interval: time.Millisecond}, Spec: TCPSpec{}}, "interval"},
		{"bad tcp regex", Definition{Target: rs, Spec: TCPSpec{Expect: "("}}, "expect"},
		{"http bad method", Definition{Target: rs, Spec: HTTPSpec{Method: "POST"}}, "GET or HEAD"},
		{"http bad path", Definition{Target: rs, Spec: HTTPSpec{Path: "health"}}, "does not start with /"},
		{"http head with digest", Definition{Target: rs, Spec: HTTPSpec{Method: "HEAD", Digest: strings.Repeat("a", 32)}}, "HEAD"},
		{"http bad digest", Definition{Target: rs, Spec: HTTPSpec{Digest: "md5:xyz"}}, "digest"},
		{"http tls option without tls", Definition{Target: rs, Spec: HTTPSpec{SNI: "a.example"}}, "plain http"},
		{"http cert without key", Definition{Target: rs, Spec: HTTPSpec{TLS: true, CertFile: "/x"}}, "both"},
		{"http header injection", Definition{Target: rs, Spec: HTTPSpec{Header: map[string]string{"X": "a\r\nB: c"}}}, "header"},
		{"dns bad type", Definition{Target: rs, Spec: DNSSpec{Type: "BOGUS"}}, "query type"},
		{"dns bad name", Definition{Target: rs, Spec: DNSSpec{Name: "a..b"}}, "query name"},
		{"dns ok", Definition{Target: rs, Spec: DNSSpec{Name: "www.example.com", Type: "a"}}, ""},
		{"udp expect and no reply", Definition{Target: rs, Spec: UDPSpec{Expect: "x", NoReplyOK: true}}, "cannot go"},
		{"icmp tiny", Definition{Target: rs, Spec: ICMPSpec{Size: 4}}, "payload size"},
		{"multicast target", Definition{Target: netip.MustParseAddrPort("224.0.0.1:80"), Spec: TCPSpec{}}, "unicast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.def.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// Definitions that mean the same check key equal; ones that differ in
// anything that changes the check do not.
func TestDefinitionKey(t *testing.T) {
	rs := netip.MustParseAddrPort("10.0.1.2:80")
	base := Definition{Target: rs, Spec: HTTPSpec{}}
	same := []Definition{
		{Target: rs, Spec: HTTPSpec{Method: "get", Path: "/", Status: StatusCodes{{200, 299}}}},
		{Target: rs, Settings: Settings{Interval: 2 * time.Second, Rise: 2, Fall: 3}, Spec: HTTPSpec{MaxBody: 1 << 20}},
		// Served on 8080, checked on 80: the same check as above.
		{Target: netip.MustParseAddrPort("10.0.1.2:8080"), Settings: Settings{Port: 80}, Spec: HTTPSpec{}},
		{Target: netip.MustParseAddrPort("10.9.9.9:80"), Settings: Settings{Address: rs.Addr()}, Spec: HTTPSpec{}},
	}
	for i, d := range same {
		if d.Key() != base.Key() {
			t.Errorf("same[%d] keys differently:\n%s\n%s", i, d.Key(), base.Key())
		}
		if d.ID() != base.ID() {
			t.Errorf("same[%d] ID %s != %s", i, d.ID(), base.ID())
		}
	}
	different := []Definition{
		{Target: netip.MustParseAddrPort("10.0.1.3:80"), Spec: HTTPSpec{}},
		{Target: rs, Spec: HTTPSpec{Path: "/health"}},
		{Target: rs, Spec: HTTPSpec{TLS: true}},
		{Target: rs, Settings: Settings{Fall: 4}, Spec: HTTPSpec{}},
		{Target: rs, Settings: Settings{StartDown: true}, Spec: HTTPSpec{}},
		{Target: rs, Spec: TCPSpec{}},
		{Target: rs, Spec: HTTPSpec{Status: StatusCodes{{200, 200}}}},
	}
	seen := map[string]int{base.Key(): -1}
	for i, d := range different {
		if j, dup := seen[d.Key()]; dup {
			t.Errorf("different[%d] keys like %d: %s", i, j, d.Key())
		}
		seen[d.Key()] = i
	}
	// icmp ignores the port: one ping per host, whatever it serves.
	a := Definition{Target: netip.MustParseAddrPort("10.0.1.2:80"), Spec: ICMPSpec{}}
	b := Definition{Target: netip.MustParseAddrPort("10.0.1.2:443"), Spec: ICMPSpec{}}
	if a.Key() != b.Key() {
		t.Errorf("icmp keys differ by port")
	}
	if !strings.HasPrefix(a.ID(), "icmp 10.0.1.2 #") {
		t.Errorf("icmp ID = %q", a.ID())
	}
}
