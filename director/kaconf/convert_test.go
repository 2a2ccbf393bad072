package kaconf

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

// importSrc converts a keepalived configuration and decodes the output as
// the daemon would; it fails the test when lvsd refuses the output.
func importSrc(t *testing.T, src string) (*director.Config, []Warning, string) {
	t.Helper()
	f, err := Parse([]byte(src), "keepalived.conf", ParseOptions{FS: MapFS{}})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	res := ConvertAndValidate(f, OutputName)
	if res.Diags.HasErrors() {
		t.Fatalf("output does not validate:\n%s\n%s", director.FormatDiagnostics(res.Diags, map[string][]byte{OutputName: res.HCL}), res.HCL)
	}
	return res.Config, res.Warnings, string(res.HCL)
}

// hasWarning reports whether a warning (not a note) contains all parts.
func hasWarning(ws []Warning, parts ...string) bool {
	for _, w := range ws {
		ok := !w.Note
		for _, p := range parts {
			ok = ok && strings.Contains(w.Msg, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func onlyVS(t *testing.T, cfg *director.Config) *director.VirtualServer {
	t.Helper()
	if len(cfg.VirtualServers) != 1 {
		t.Fatalf("%d virtual servers, want 1", len(cfg.VirtualServers))
	}
	return cfg.VirtualServers[0]
}

func onlyVI(t *testing.T, cfg *director.Config) *director.VRRPInstance {
	t.Helper()
	if len(cfg.VRRPInstances) != 1 {
		t.Fatalf("%d vrrp instances, want 1", len(cfg.VRRPInstances))
	}
	return cfg.VRRPInstances[0]
}

// The checker timing keepalived's users tune most: delay_loop,
// connect_timeout, retry, delay_before_retry. retry counts the checks after the first failure,
// so the server goes down after retry+1 failures; one success brings it
// back.
func TestCheckTiming(t *testing.T) {
	tests := []struct {
		name                   string
		vs, rs, checker        string
		kind                   director.CheckKind
		interval, timeout      time.Duration
		rise, fall             int
		startDown              bool
		retryInterval          time.Duration // zero: equal to interval
		warmup                 time.Duration
		wantExtraWarningPhrase string
	}{
		{name: "virtual server settings", vs: "delay_loop 6\n", checker: "TCP_CHECK {\n connect_timeout 3\n retry 3\n delay_before_retry 6\n}",
			kind: director.CheckTCP, interval: 6 * time.Second, timeout: 3 * time.Second, rise: 1, fall: 4, warmup: 6 * time.Second},
		{name: "keepalived's defaults", vs: "", checker: "TCP_CHECK {\n}",
			kind: director.CheckTCP, interval: 60 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 2, retryInterval: time.Second, warmup: 60 * time.Second},
		{name: "real server settings override the virtual server's", vs: "delay_loop 6\nconnect_timeout 4\nretry 5\n", rs: "delay_loop 2\nretry 0\n", checker: "TCP_CHECK {\n}",
			kind: director.CheckTCP, interval: 2 * time.Second, timeout: 4 * time.Second, rise: 1, fall: 1, warmup: 2 * time.Second},
		{name: "checker settings override the real server's", vs: "delay_loop 6\n", rs: "retry 5\n", checker: "TCP_CHECK {\n retry 2\n delay_loop 1.5\n connect_timeout 0.5\n warmup 0\n delay_before_retry 1.5\n}",
			kind: director.CheckTCP, interval: 1500 * time.Millisecond, timeout: 500 * time.Millisecond, rise: 1, fall: 3, warmup: 0},
		{name: "nb_get_retry is retry", vs: "delay_loop 3\n", checker: "HTTP_GET {\n url {\n path /\n }\n nb_get_retry 2\n}",
			kind: director.CheckHTTP, interval: 3 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 3, warmup: 3 * time.Second},
		{name: "HTTP_GET retries after 3s", vs: "delay_loop 10\n", checker: "HTTP_GET {\n url {\n path /\n }\n retry 2\n}",
			kind: director.CheckHTTP, interval: 10 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 3, retryInterval: 3 * time.Second, warmup: 10 * time.Second},
		{name: "MISC_CHECK: no retry, the virtual server's delay_loop as timeout", vs: "delay_loop 7\n", checker: "MISC_CHECK {\n misc_path /bin/true\n}",
			kind: director.CheckExec, interval: 7 * time.Second, timeout: 7 * time.Second, rise: 1, fall: 1, warmup: 7 * time.Second},
		{name: "misc_timeout", vs: "delay_loop 7\n", checker: "MISC_CHECK {\n misc_path /bin/true\n misc_timeout 3\n}",
			kind: director.CheckExec, interval: 7 * time.Second, timeout: 3 * time.Second, rise: 1, fall: 1, warmup: 7 * time.Second},
		{name: "DNS_CHECK: retry 3, retried at delay_loop", vs: "delay_loop 4\n", checker: "DNS_CHECK {\n}",
			kind: director.CheckDNS, interval: 4 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 4, warmup: 4 * time.Second},
		{name: "alpha", vs: "delay_loop 4\nalpha\n", checker: "PING_CHECK {\n retry 0\n}",
			kind: director.CheckICMP, interval: 4 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 1, startDown: true, warmup: 4 * time.Second},
		{name: "alpha off on the checker", vs: "delay_loop 4\nalpha\n", checker: "PING_CHECK {\n retry 0\n alpha off\n}",
			kind: director.CheckICMP, interval: 4 * time.Second, timeout: 5 * time.Second, rise: 1, fall: 1, warmup: 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "virtual_server 192.0.2.1 80 {\nprotocol TCP\n" + tt.vs + "real_server 10.0.0.1 80 {\n" + tt.rs + tt.checker + "\n}\n}\n"
			cfg, warns, out := importSrc(t, src)
			rs := onlyVS(t, cfg).RealServers[0]
			if len(rs.Checks) != 1 {
				t.Fatalf("%d checks, want 1:\n%s", len(rs.Checks), out)
			}
			c := rs.Checks[0]
			if c.Kind != tt.kind || c.Interval != tt.interval || c.Timeout != tt.timeout || c.Rise != tt.rise || c.Fall != tt.fall || c.StartDown != tt.startDown || c.Warmup != tt.warmup {
				t.Errorf("check %s interval %s timeout %s rise %d fall %d start_down %v warmup %s; want %s %s %s %d %d %v %s\n%s",
					c.Kind, c.Interval, c.Timeout, c.Rise, c.Fall, c.StartDown, c.Warmup, tt.kind, tt.interval, tt.timeout, tt.rise, tt.fall, tt.startDown, tt.warmup, out)
			}
			wantRetry := tt.retryInterval
			if wantRetry == 0 {
				wantRetry = tt.interval
			}
			if c.RetryInterval != wantRetry {
				t.Errorf("retry_interval %s, want %s (keepalived's delay_before_retry)\n%s", c.RetryInterval, wantRetry, out)
			}
			if hasWarning(warns, "delay_before_retry") {
				t.Errorf("delay_before_retry maps to retry_interval; no warning expected: %v", warns)
			}
		})
	}
}

func TestVirtualServer(t *testing.T) {
	t.Run("scheduler, forwarding, persistence", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server 192.0.2.1 443 {
  lb_algo sh
  sh-port
  flag-1
  lb_kind DR
  persistence_timeout 300
  persistence_granularity 255.255.0.0
  protocol TCP
  real_server 192.0.2.11 443 {
    weight 7
    uthreshold 100
    lthreshold 50
  }
}`)
		vs := onlyVS(t, cfg)
		if vs.Scheduler != "sh" || !vs.SchedFlags.Port || !vs.SchedFlags.Fallback || vs.Forward != ipvs.DR {
			t.Errorf("scheduler %s flags %+v forward %v", vs.Scheduler, vs.SchedFlags, vs.Forward)
		}
		if p := vs.Persistence; p == nil || p.Timeout != 300*time.Second || p.PrefixLen != 16 {
			t.Errorf("persistence %+v", vs.Persistence)
		}
		rs := vs.RealServers[0]
		if rs.Weight != 7 || rs.UpperThreshold != 100 || rs.LowerThreshold != 50 || rs.Port != 443 {
			t.Errorf("real server %+v", rs)
		}
	})
	t.Run("keepalived 2.2 makes a service without protocol UDP", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, "virtual_server 192.0.2.1 53 {\n real_server 10.0.0.1 53 {\n }\n}\n")
		vs := onlyVS(t, cfg)
		if vs.Services[0].Protocol != ipvs.UDP || vs.Scheduler != "wlc" || vs.Forward != ipvs.NAT {
			t.Errorf("service %v scheduler %s forward %v", vs.Services[0], vs.Scheduler, vs.Forward)
		}
		if !hasWarning(warns, "defaulting to UDP") {
			t.Errorf("no warning about UDP: %v", warns)
		}
	})
	t.Run("port 0 gets keepalived's persistence", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, "virtual_server 192.0.2.1 0 {\n protocol TCP\n real_server 10.0.0.1 {\n }\n}\n")
		if p := onlyVS(t, cfg).Persistence; p == nil || p.Timeout != 360*time.Second {
			t.Errorf("persistence %+v", p)
		}
		if !hasWarning(warns, "persistence_timeout 360") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("virtual_server_group ranges", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server_group G {
  192.0.2.1-3 80
  192.0.2.10 443
  192.0.2.16/30 8080
}
virtual_server group G {
  protocol TCP
  real_server 10.0.0.1 {
  }
}`)
		vs := onlyVS(t, cfg)
		var got []string
		for _, s := range vs.Services {
			got = append(got, s.Addr.String())
		}
		want := []string{"192.0.2.1:80", "192.0.2.2:80", "192.0.2.3:80", "192.0.2.10:443", "192.0.2.16:8080", "192.0.2.17:8080", "192.0.2.18:8080", "192.0.2.19:8080"}
		if !slices.Equal(got, want) || vs.Name != "G" {
			t.Errorf("%s: services %v, want %v", vs.Name, got, want)
		}
	})
	t.Run("a group of marks and addresses is split", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server_group G {
  192.0.2.1 80
  fwmark 7
}
virtual_server group G {
  protocol TCP
  real_server 10.0.0.1 80 {
  }
}`)
		if len(cfg.VirtualServers) != 2 || cfg.VirtualServers[0].Name != "G" || cfg.VirtualServers[1].Name != "G-fwmark-7" || cfg.VirtualServers[1].Services[0].FWMark != 7 {
			t.Errorf("virtual servers %v", cfg.VirtualServers)
		}
		if !hasWarning(warns, "mixes addresses and firewall marks") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("DR real server on another port", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  lb_kind DR
  protocol TCP
  real_server 192.0.2.11 8080 {
    TCP_CHECK {
    }
  }
}`)
		rs := onlyVS(t, cfg).RealServers[0]
		if rs.Port != 0 || rs.Checks[0].Target != netip.MustParseAddrPort("192.0.2.11:8080") {
			t.Errorf("port %d, check target %s", rs.Port, rs.Checks[0].Target)
		}
		if !hasWarning(warns, "resets the port") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("firewall mark, DR: no port, checks keep it", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server fwmark 3 {
  lb_kind DR
  persistence_timeout 60
  real_server 192.0.2.11 443 {
    TCP_CHECK {
    }
    SSL_GET {
      url {
        path /
      }
      connect_port 8443
    }
  }
}`)
		rs := onlyVS(t, cfg).RealServers[0]
		if rs.Port != 0 || len(rs.Checks) != 2 || rs.Checks[0].Target.Port() != 443 || rs.Checks[1].Target.Port() != 8443 {
			t.Errorf("port %d checks %v", rs.Port, rs.Checks)
		}
	})
	t.Run("quorum and hysteresis thresholds", func(t *testing.T) {
		src := "virtual_server 192.0.2.1 80 {\nprotocol TCP\nquorum 5\nhysteresis 2\n"
		for i := 1; i <= 4; i++ {
			src += "real_server 10.0.0." + string(rune('0'+i)) + " 80 {\n weight 2\n}\n"
		}
		cfg, _, _ := importSrc(t, src+"}\n")
		vs := onlyVS(t, cfg)
		// keepalived: down below 5-2 = 3, up again at 5+2 = 7.
		if vs.Quorum != 3 || vs.Quorum+vs.Hysteresis != 7 {
			t.Errorf("quorum %d hysteresis %d: down below %d, up at %d; want 3 and 7", vs.Quorum, vs.Hysteresis, vs.Quorum, vs.Quorum+vs.Hysteresis)
		}
	})
	t.Run("quorum above the total weight is reduced, as keepalived does", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, "virtual_server 192.0.2.1 80 {\nprotocol TCP\nquorum 10\nreal_server 10.0.0.1 80 {\n weight 3\n}\n}\n")
		if q := onlyVS(t, cfg).Quorum; q != 3 || !hasWarning(warns, "reduces it to 3") {
			t.Errorf("quorum %d, warnings %v", q, warns)
		}
	})
	t.Run("sorry server, inhibit, hooks, names", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  snmp_name web_front
  inhibit_on_failure
  sorry_server 10.0.0.99 8080
  sorry_server_inhibit
  quorum_down "/bin/page 'web down'"
  real_server 10.0.0.1 80 {
    snmp_name web1
    notify_down "/bin/rs-down web1" root
  }
  real_server 10.0.0.2 80 {
    inhibit_on_failure off
  }
}`)
		vs := onlyVS(t, cfg)
		if vs.Name != "web_front" || !vs.InhibitOnFailure || vs.SorryServer == nil || vs.SorryServer.Port != 8080 || !vs.SorryServer.Inhibit {
			t.Errorf("virtual server %+v sorry %+v", vs, vs.SorryServer)
		}
		if h := vs.NotifyQuorumDown; h == nil || !slices.Equal(h.Command, []string{"/bin/page", "web down"}) {
			t.Errorf("quorum_down %+v", h)
		}
		if rs := vs.RealServers[0]; rs.ID != "web_front/web1" || !rs.InhibitOnFailure || rs.NotifyDown == nil || rs.NotifyDown.Command[1] != "web1" {
			t.Errorf("real server %+v", rs)
		}
		if vs.RealServers[1].InhibitOnFailure {
			t.Error("inhibit_on_failure off not imported")
		}
		if !hasWarning(warns, "the user root is ignored") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("duplicate real servers and one without real servers", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 10.0.0.1 80 {
  }
  real_server 10.0.0.1 80 {
  }
}
virtual_server 192.0.2.2 80 {
  protocol TCP
}`)
		if len(onlyVS(t, cfg).RealServers) != 1 || !hasWarning(warns, "duplicate") || !hasWarning(warns, "has no real server") {
			t.Errorf("warnings %v", warns)
		}
	})
}

func TestChecks(t *testing.T) {
	t.Run("HTTP_GET with several urls", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  virtualhost vs.example.com
  real_server 10.0.0.1 80 {
    HTTP_GET {
      url {
        path /a
        digest 9B3A0C85A887A256D6939DA88AABD8CD
      }
      url {
        path /b?x=1
        status_code 200-299 404
        virtualhost url.example.com
        regex "ok|ready"
        regex_options caseless
      }
    }
  }
}`)
		cs := onlyVS(t, cfg).RealServers[0].Checks
		if len(cs) != 2 {
			t.Fatalf("%d checks", len(cs))
		}
		a, b := cs[0].HTTP, cs[1].HTTP
		if a.Path != "/a" || a.BodyMD5 != "9b3a0c85a887a256d6939da88aabd8cd" || a.Host != "vs.example.com" || !slices.Equal(a.Status, []director.StatusRange{{Min: 200, Max: 299}}) {
			t.Errorf("first url %+v", a)
		}
		if b.Path != "/b?x=1" || b.Host != "url.example.com" || b.BodyRegex != "(?i)ok|ready" || !slices.Equal(b.Status, []director.StatusRange{{Min: 200, Max: 299}, {Min: 404, Max: 404}}) {
			t.Errorf("second url %+v", b)
		}
	})
	t.Run("identical checks become the virtual server's", func(t *testing.T) {
		src := "virtual_server 192.0.2.1 80 {\nprotocol TCP\n"
		for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
			src += "real_server " + ip + " 80 {\n TCP_CHECK {\n connect_timeout 2\n }\n}\n"
		}
		cfg, _, out := importSrc(t, src+"}\n")
		vs := onlyVS(t, cfg)
		if len(vs.Checks) != 1 || !vs.RealServers[2].ChecksInherited || vs.RealServers[2].Checks[0].Target.String() != "10.0.0.3:80" {
			t.Errorf("checks not hoisted:\n%s", out)
		}
	})
	t.Run("different checks stay on their real servers", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 10.0.0.1 80 {
    TCP_CHECK {
      connect_timeout 2
    }
  }
  real_server 10.0.0.2 80 {
    TCP_CHECK {
      connect_timeout 3
    }
  }
  real_server 10.0.0.3 80 {
  }
}`)
		vs := onlyVS(t, cfg)
		if len(vs.Checks) != 0 || vs.RealServers[1].Checks[0].Timeout != 3*time.Second || len(vs.RealServers[2].Checks) != 0 {
			t.Errorf("checks %v / %v", vs.Checks, vs.RealServers)
		}
	})
	t.Run("SSL_GET with SNI and the global client certificate", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `SSL {
  certificate /etc/ssl/c.pem
  key /etc/ssl/c.key
  ca /etc/ssl/ca.pem
}
virtual_server 192.0.2.1 443 {
  protocol TCP
  real_server 10.0.0.1 443 {
    SSL_GET {
      url {
        path /health
      }
      virtualhost www.example.com
      enable_sni
    }
  }
}`)
		c := onlyVS(t, cfg).RealServers[0].Checks[0]
		tls := c.HTTP.TLS
		if c.Kind != director.CheckHTTPS || tls == nil || tls.Verify || tls.ServerName != "www.example.com" || tls.CertFile != "/etc/ssl/c.pem" || tls.KeyFile != "/etc/ssl/c.key" || tls.CAFile != "" {
			t.Errorf("https check %+v tls %+v", c, tls)
		}
		if !hasWarning(warns, "never verifies") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("MISC_CHECK", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 10.0.0.1 80 {
    MISC_CHECK {
      misc_path "/usr/local/bin/check --host 10.0.0.1 'a b'"
      misc_dynamic
      user nobody nogroup
    }
  }
  real_server 10.0.0.2 80 {
    MISC_CHECK {
      misc_path "curl -fs http://10.0.0.2/ | grep -q ok"
    }
  }
}`)
		rss := onlyVS(t, cfg).RealServers
		e := rss[0].Checks[0].Exec
		if !slices.Equal(e.Command, []string{"/usr/local/bin/check", "--host", "10.0.0.1", "a b"}) || !e.DynamicWeight || e.User != "nobody" {
			t.Errorf("exec %+v", e)
		}
		if e := rss[1].Checks[0].Exec; !slices.Equal(e.Command, []string{"/bin/sh", "-c", "curl -fs http://10.0.0.2/ | grep -q ok"}) {
			t.Errorf("shell line %+v", e)
		}
		if !hasWarning(warns, "group is ignored") || !hasWarning(warns, "shell command line") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("DNS, UDP, SMTP, PING", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `virtual_server 192.0.2.1 53 {
  protocol UDP
  real_server 10.0.0.1 53 {
    DNS_CHECK {
      type aaaa
      name www.example.com
    }
    UDP_CHECK {
      payload 01 02
      require_reply 0X 02
    }
    SMTP_CHECK {
      connect_port 25
    }
    PING_CHECK {
    }
  }
}`)
		cs := onlyVS(t, cfg).RealServers[0].Checks
		if len(cs) != 4 {
			t.Fatalf("%d checks", len(cs))
		}
		if d := cs[0].DNS; d.Type != "AAAA" || d.Name != "www.example.com." || d.Transport != "udp" {
			t.Errorf("dns %+v", d)
		}
		if u := cs[1].UDP; string(u.Send) != "\x01\x02" || u.Expect != `^[\x00-\x0f]\x02` {
			t.Errorf("udp %+v", u)
		}
		if c := cs[2]; c.Kind != director.CheckTCP || c.Target.Port() != 25 || c.TCP.Expect != "^220" {
			t.Errorf("smtp %+v", c)
		}
		if cs[3].Kind != director.CheckICMP {
			t.Errorf("ping %+v", cs[3])
		}
		if !hasWarning(warns, "SMTP_CHECK") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("checks with connect_ip and bindto", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 10.0.0.1 80 {
    TCP_CHECK {
      connect_ip 10.0.1.1
      connect_port 8080
      bindto 10.0.0.254
      bind_if eth1
    }
  }
}`)
		c := onlyVS(t, cfg).RealServers[0].Checks[0]
		if c.Target != netip.MustParseAddrPort("10.0.1.1:8080") || c.SourceAddress != netip.MustParseAddr("10.0.0.254") || c.SourceInterface != "eth1" {
			t.Errorf("check %+v", c)
		}
	})
}

func TestVRRP(t *testing.T) {
	t.Run("instance", func(t *testing.T) {
		cfg, _, _ := importSrc(t, `global_defs {
  router_id lb-1
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 2
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 120
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass longpassword
  }
  unicast_src_ip 192.0.2.2
  unicast_peer {
    192.0.2.3
    192.0.2.4
  }
  virtual_ipaddress {
    192.0.2.100/24
    10.0.0.100/24 dev eth1 label eth1:0
  }
  garp_master_refresh 30
  preempt_delay 15.5
}`)
		vi := onlyVI(t, cfg)
		if cfg.NodeName != "lb-1" || vi.Interface != "eth0" || vi.VRID != 51 || vi.Priority != 120 || vi.Version != 2 || vi.AdvertInterval != time.Second || !vi.Preempt || vi.PreemptDelay != 15500*time.Millisecond {
			t.Errorf("instance %+v", vi)
		}
		if vi.AuthPass != "longpass" || vi.UnicastSource != netip.MustParseAddr("192.0.2.2") || len(vi.UnicastPeers) != 2 {
			t.Errorf("auth %q unicast %s %v", vi.AuthPass, vi.UnicastSource, vi.UnicastPeers)
		}
		want := []director.VirtualAddress{{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Interface: "eth0"}, {Prefix: netip.MustParsePrefix("10.0.0.100/24"), Interface: "eth1"}}
		if !slices.Equal(vi.VirtualAddresses, want) {
			t.Errorf("addresses %v", vi.VirtualAddresses)
		}
		if g := vi.GratuitousARP; g.Count != 2 || g.SecondBurstDelay != 0 || g.RefreshInterval != 30*time.Second {
			t.Errorf("gratuitous ARP %+v", g)
		}
	})
	tests := []struct {
		name         string
		global, body string
		priority     uint8
		version      int
		advert       time.Duration
		preempt      bool
		delay        time.Duration
		auth         string
		warn         string
	}{
		{"keepalived's defaults", "", "", 100, 2, time.Second, true, 0, "", ""},
		{"state MASTER without priority is the owner", "", "state MASTER\n", 255, 2, time.Second, true, 0, "", "priority 255"},
		{"vrrp_version 3", "vrrp_version 3\n", "advert_int 0.25\n", 100, 3, 250 * time.Millisecond, true, 0, "", ""},
		{"v2 rounds the interval", "", "advert_int 1.5\n", 100, 2, 2 * time.Second, true, 0, "", "rounds it to 2s"},
		{"v3 rounds to centiseconds", "", "version 3\nadvert_int 0.123\n", 100, 3, 120 * time.Millisecond, true, 0, "", "rounds it to 120ms"},
		{"nopreempt", "", "nopreempt\n", 100, 2, time.Second, false, 0, "", ""},
		{"nopreempt and preempt_delay", "", "nopreempt\npreempt_delay 30\n", 100, 2, time.Second, false, 0, "", "resets the delay"},
		{"nopreempt with state MASTER", "", "state MASTER\npriority 150\nnopreempt\n", 150, 2, time.Second, true, 0, "", "clears nopreempt"},
		{"nopreempt on the owner", "", "priority 255\nnopreempt\n", 255, 2, time.Second, true, 0, "", "resets nopreempt"},
		{"preempt after nopreempt", "", "nopreempt\npreempt\n", 100, 2, time.Second, true, 0, "", ""},
		{"authentication with v3 is ignored", "", "version 3\nauthentication {\nauth_type PASS\nauth_pass x\n}\n", 100, 3, time.Second, true, 0, "", "keepalived ignores it"},
		{"AH", "", "authentication {\nauth_type AH\nauth_pass x\n}\n", 100, 2, time.Second, true, 0, "", "AH"},
		{"lower case state", "", "state master\n", 100, 2, time.Second, true, 0, "", "takes it as BACKUP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "global_defs {\n" + tt.global + "}\nvrrp_instance VI {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n192.0.2.1\n}\n" + tt.body + "}\n"
			cfg, warns, out := importSrc(t, src)
			vi := onlyVI(t, cfg)
			if vi.Priority != tt.priority || vi.Version != tt.version || vi.AdvertInterval != tt.advert || vi.Preempt != tt.preempt || vi.PreemptDelay != tt.delay || vi.AuthPass != tt.auth {
				t.Errorf("priority %d version %d advert %s preempt %v delay %s auth %q\n%s", vi.Priority, vi.Version, vi.AdvertInterval, vi.Preempt, vi.PreemptDelay, vi.AuthPass, out)
			}
			if tt.warn != "" && !hasWarning(warns, tt.warn) {
				t.Errorf("no warning with %q: %v", tt.warn, warns)
			}
		})
	}
	t.Run("IPv6 is version 3", func(t *testing.T) {
		cfg, _, _ := importSrc(t, "vrrp_instance V6 {\ninterface eth0\nvirtual_router_id 6\nvirtual_ipaddress {\nfe80::1/64\n2001:db8::1/64\n}\n}\n")
		if vi := onlyVI(t, cfg); vi.Version != 3 || vi.Family != ipvs.IPv6 {
			t.Errorf("version %d family %v", vi.Version, vi.Family)
		}
	})
	t.Run("tracking, scripts and notify", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `vrrp_script chk {
  script "/usr/bin/killall -0 haproxy"
  interval 2
  timeout 1
  weight -20 reverse
  rise 2
  fall 3
  user haproxy
}
vrrp_script chk2 {
  script /bin/true
}
vrrp_instance VI {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
  track_script {
    chk
    chk2 weight 10 reverse
  }
  track_interface {
    eth0
    eth1
    eth2 weight -30
    eth3 weight 0 reverse
  }
  notify_master "/bin/notify master"
  notify "/bin/notify-any"
}`)
		s := cfg.VRRPScripts[0]
		if !slices.Equal(s.Command, []string{"/usr/bin/killall", "-0", "haproxy"}) || s.Interval != 2*time.Second || s.Timeout != time.Second || s.Weight != -20 || !s.Reverse || s.Rise != 2 || s.Fall != 3 || s.User != "haproxy" {
			t.Errorf("script %+v", s)
		}
		vi := onlyVI(t, cfg)
		if !slices.Equal(vi.TrackScripts, []director.Track{{Name: "chk", Weight: -20, Reverse: true}, {Name: "chk2", Weight: 10, Reverse: true}}) {
			t.Errorf("track scripts %v", vi.TrackScripts)
		}
		if !slices.Equal(vi.TrackInterfaces, []director.Track{{Name: "eth1"}, {Name: "eth2", Weight: -30}, {Name: "eth3", Reverse: true}}) {
			t.Errorf("track interfaces %v", vi.TrackInterfaces)
		}
		if vi.Notify.Master == nil || vi.Notify.Any == nil || vi.Notify.Master.Command[1] != "master" {
			t.Errorf("notify %+v", vi.Notify)
		}
		if hasWarning(warns, "reverse") {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("track_script noreverse overrides the script's reverse", func(t *testing.T) {
		cfg, _, _ := importSrc(t, "vrrp_script chk {\nscript /bin/true\nweight 5 reverse\n}\nvrrp_instance V {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n192.0.2.1\n}\ntrack_script {\nchk weight 5 noreverse\n}\n}\n")
		if got := onlyVI(t, cfg).TrackScripts; !slices.Equal(got, []director.Track{{Name: "chk", Weight: 5}}) {
			t.Errorf("track scripts %v", got)
		}
	})
	t.Run("sync group and the sync daemon", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `global_defs {
  lvs_sync_daemon eth2 VI_B id 7 port 8849 ttl 2 group 224.0.0.82 maxlen 1400
  lvs_timeouts tcp 900 tcpfin 30 udp 300
}
vrrp_script gw {
  script /bin/true
  weight -10
}
vrrp_sync_group G {
  group {
    VI_A VI_B
  }
  track_interface {
    eth3
  }
  notify "/bin/group-notify"
}
vrrp_instance VI_A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
  track_script {
    gw
  }
}
vrrp_instance VI_B {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.1
  }
}`)
		g := cfg.SyncGroups[0]
		if !slices.Equal(g.Instances, []string{"VI_A", "VI_B"}) || g.Notify.Any == nil {
			t.Errorf("group %+v", g)
		}
		a, b := cfg.VRRPInstances[0], cfg.VRRPInstances[1]
		if len(a.TrackScripts) != 0 || !slices.Equal(a.TrackInterfaces, []director.Track{{Name: "eth3"}}) || !slices.Equal(b.TrackInterfaces, []director.Track{{Name: "eth3"}}) {
			t.Errorf("tracking %v %v / %v", a.TrackScripts, a.TrackInterfaces, b.TrackInterfaces)
		}
		if !hasWarning(warns, "ignores weighted scripts") {
			t.Errorf("warnings %v", warns)
		}
		sd := cfg.IPVS.SyncDaemon
		if sd == nil || sd.Interface != "eth2" || sd.Role != director.SyncFollow || sd.VRRPInstance != "VI_B" || sd.SyncID != 7 || sd.Port != 8849 || sd.TTL != 2 || sd.Group != netip.MustParseAddr("224.0.0.82") || sd.MaxLen != 1400 {
			t.Errorf("sync daemon %+v", sd)
		}
		if to := cfg.IPVS.Timeouts; to == nil || to.TCP != 900*time.Second || to.TCPFin != 30*time.Second || to.UDP != 300*time.Second {
			t.Errorf("timeouts %+v", to)
		}
	})
	t.Run("excluded addresses stay out of the adverts", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, "vrrp_instance V {\ninterface eth0\nversion 2\nvirtual_router_id 1\nvirtual_ipaddress {\n192.0.2.1\n}\nvirtual_ipaddress_excluded {\n192.0.2.2\n2001:db8::3/64 dev eth1\n}\n}\n")
		want := []director.VirtualAddress{
			{Prefix: netip.MustParsePrefix("192.0.2.1/32"), Interface: "eth0"},
			{Prefix: netip.MustParsePrefix("192.0.2.2/32"), Interface: "eth0", Excluded: true},
			{Prefix: netip.MustParsePrefix("2001:db8::3/64"), Interface: "eth1", Excluded: true},
		}
		if got := onlyVI(t, cfg).VirtualAddresses; !slices.Equal(got, want) || len(warns) != 0 {
			t.Errorf("addresses %v, warnings %v", got, warns)
		}
	})
	t.Run("multicast groups", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, `global_defs {
  vrrp_mcast_group4 224.0.0.77
}
vrrp_instance OWN {
  interface eth0
  virtual_router_id 1
  mcast_dst_ip 224.0.0.88
  virtual_ipaddress {
    192.0.2.1
  }
}
vrrp_instance GLOBAL {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    192.0.2.2
  }
}
vrrp_instance UNICAST {
  interface eth0
  virtual_router_id 3
  mcast_dst_ip 224.0.0.88
  unicast_peer {
    192.0.2.12
  }
  virtual_ipaddress {
    192.0.2.3
  }
}
vrrp_instance SIX {
  interface eth0
  virtual_router_id 4
  virtual_ipaddress {
    2001:db8::4/64
  }
}`)
		want := map[string]netip.Addr{"OWN": netip.MustParseAddr("224.0.0.88"), "GLOBAL": netip.MustParseAddr("224.0.0.77")}
		for _, vi := range cfg.VRRPInstances {
			if vi.MulticastGroup != want[vi.Name] {
				t.Errorf("%s: multicast group %v, want %v", vi.Name, vi.MulticastGroup, want[vi.Name])
			}
		}
		noted := slices.ContainsFunc(warns, func(w Warning) bool {
			return w.Note && strings.Contains(w.Msg, "mcast_dst_ip 224.0.0.88 with unicast peers")
		})
		if len(cfg.VRRPInstances) != 4 || !noted || hasWarning(warns) {
			t.Errorf("%d instances, warnings %v", len(cfg.VRRPInstances), warns)
		}
	})
	t.Run("instance without addresses is left out", func(t *testing.T) {
		cfg, warns, _ := importSrc(t, "vrrp_instance V {\ninterface eth0\nvirtual_router_id 1\n}\nvrrp_sync_group G {\ngroup {\nV\n}\n}\n")
		if len(cfg.VRRPInstances) != 0 || len(cfg.SyncGroups) != 0 || !hasWarning(warns, "no virtual_ipaddress") || !hasWarning(warns, "not imported") {
			t.Errorf("instances %v, warnings %v", cfg.VRRPInstances, warns)
		}
	})
	t.Run("names lvsd does not accept", func(t *testing.T) {
		cfg, _, _ := importSrc(t, "vrrp_instance -odd/name {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n192.0.2.1\n}\n}\nvrrp_sync_group G {\ngroup {\n-odd/name\n}\n}\n")
		if vi := onlyVI(t, cfg); vi.Name != "_-odd_name" || cfg.SyncGroups[0].Instances[0] != vi.Name {
			t.Errorf("instance %q, group %v", vi.Name, cfg.SyncGroups[0].Instances)
		}
	})
}

// Every keyword keepalived 2.2 has in the blocks the importer reads is
// either converted or warned about: feed a statement that is nonsense to
// keepalived and expect the unknown-keyword warning with its place.
func TestUnknownKeywords(t *testing.T) {
	_, warns, _ := importSrc(t, `global_defs {
  not_a_keyword 1
}
frobnicate {
}
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
  bogus_option yes
}
virtual_server 192.0.2.1 80 {
  protocol TCP
  wat
  real_server 10.0.0.1 80 {
    huh
    TCP_CHECK {
      what_is_this 1
    }
  }
}`)
	want := []string{
		`keepalived.conf:2: warning: unknown keyword "not_a_keyword" in global_defs`,
		`keepalived.conf:4: warning: unknown keyword "frobnicate" in the top level`,
		`keepalived.conf:12: warning: unknown keyword "bogus_option" in vrrp_instance`,
		`keepalived.conf:16: warning: unknown keyword "wat" in virtual_server`,
		`keepalived.conf:20: warning: unknown keyword "what_is_this" in TCP_CHECK`,
		`keepalived.conf:18: warning: unknown keyword "huh" in real_server`,
	}
	for _, w := range want {
		found := false
		for _, g := range warns {
			found = found || strings.HasPrefix(g.String(), w)
		}
		if !found {
			t.Errorf("missing warning %q in\n%v", w, warns)
		}
	}
}

func TestReplyRegexp(t *testing.T) {
	if re, exact := replyRegexp([]byte{'p', '.', 0x01, 0x40, 0x90}, []byte{0xff, 0xff, 0xff, 0xf0, 0xff}); re != `^p\.\x01[\x40-\x4f](?s:.)` || exact {
		t.Errorf("replyRegexp = %q, %v", re, exact)
	}
}
