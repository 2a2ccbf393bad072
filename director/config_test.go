package director

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/lvsd/lvsd/ipvs"
)

var cmpConfig = cmp.Options{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Config{}, "Files"),
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

var (
	ap   = netip.MustParseAddrPort
	ip   = netip.MustParseAddr
	pfx  = netip.MustParsePrefix
	tcp4 = func(s string) ipvs.ServiceKey {
		return ipvs.ServiceKey{Family: ipvs.IPv4, Protocol: ipvs.TCP, Addr: ap(s)}
	}
)

// defaults returns a Config with every default of an empty file.
func defaults() *Config {
	return &Config{
		Logging: Logging{Level: "info", Format: "text"},
		Control: Control{Socket: DefaultControlSocket, Mode: DefaultControlMode},
		IPVS:    IPVSSettings{ResyncInterval: DefaultResyncInterval},
	}
}

// defaultCheck is a check of kind k with the default common settings.
func defaultCheck(k CheckKind) Check {
	return Check{Kind: k, Interval: 5 * time.Second, RetryInterval: 5 * time.Second, Timeout: 2 * time.Second, Warmup: 5 * time.Second, Rise: 2, Fall: 3}
}

func withTarget(c Check, target string) Check {
	c.Target = ap(target)
	return c
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		vars map[string]string
		want func(c *Config)
		// warnings are the summaries of the expected warnings, in order.
		warnings []string
	}{{
		name: "empty file",
		src:  "",
		want: func(c *Config) {},
	}, {
		name: "minimal virtual server",
		src: `
virtual_server "web" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.1:8080"
  }
}`,
		want: func(c *Config) {
			c.VirtualServers = []*VirtualServer{{
				Name:         "web",
				Services:     []ipvs.ServiceKey{tcp4("192.0.2.1:80")},
				Family:       ipvs.IPv4,
				Scheduler:    "wlc",
				Forward:      ipvs.NAT,
				DrainTimeout: time.Minute,
				Quorum:       1,
				RealServers: []*RealServer{{
					Name: "10.0.0.1:8080", ID: "web/10.0.0.1:8080",
					Addr: ip("10.0.0.1"), Port: 8080, Weight: 1, Forward: ipvs.NAT,
				}},
			}}
		},
	}, {
		name: "every virtual and real server setting",
		src: `
virtual_server "app" {
  addresses          = ["192.0.2.1:443", "192.0.2.2:443"]
  protocol           = "TCP"
  scheduler          = "sh"
  scheduler_flags    = ["sh-port", "sh-fallback"]
  forward            = "route"
  one_packet         = false
  drain_timeout      = "0s"
  quorum             = 3
  hysteresis         = 1
  inhibit_on_failure = true
  persistence {
    timeout = "5m"
    netmask = "/24"
  }
  sorry_server {
    address = "10.0.9.9"
    inhibit = true
  }
  check "tcp" {
    interval     = "1s"
    send_hex     = "de ad"
    expect       = "^ok"
    start_down   = true
    warmup       = "0s"
    source_address   = "10.0.0.254"
    source_interface = "eth1"
  }
  real_server {
    name            = "a"
    address         = "10.0.0.1"
    weight          = 3
    upper_threshold = 100
    lower_threshold = 50
  }
  real_server {
    address            = "10.0.0.2:443"
    forward            = "masq"
    inhibit_on_failure = false
    check "icmp" {
      address = "10.0.1.2"
    }
    notify "up" {
      command = ["/bin/echo", "up"]
    }
    notify "down" {
      command = ["/bin/echo", "down"]
      timeout = "2s"
    }
  }
  notify "quorum_down" {
    command = ["/usr/local/bin/page"]
  }
}`,
		want: func(c *Config) {
			tcpCheck := Check{
				Kind: CheckTCP, Interval: time.Second, RetryInterval: time.Second, Timeout: time.Second, Rise: 2, Fall: 3, StartDown: true,
				SourceAddress: ip("10.0.0.254"), SourceInterface: "eth1",
				TCP: &TCPCheck{Send: []byte{0xde, 0xad}, Expect: "^ok"},
			}
			icmp := defaultCheck(CheckICMP)
			icmp.Address = ip("10.0.1.2")
			c.VirtualServers = []*VirtualServer{{
				Name:             "app",
				Services:         []ipvs.ServiceKey{tcp4("192.0.2.1:443"), tcp4("192.0.2.2:443")},
				Family:           ipvs.IPv4,
				Scheduler:        "sh",
				SchedFlags:       ipvs.SchedFlags{Port: true, Fallback: true},
				Forward:          ipvs.DR,
				Persistence:      &Persistence{Timeout: 5 * time.Minute, PrefixLen: 24},
				Quorum:           3,
				Hysteresis:       1,
				InhibitOnFailure: true,
				SorryServer:      &SorryServer{Addr: ip("10.0.9.9"), Forward: ipvs.DR, Inhibit: true},
				Checks:           []Check{tcpCheck},
				NotifyQuorumDown: &Hook{Command: []string{"/usr/local/bin/page"}, Timeout: 30 * time.Second},
				RealServers: []*RealServer{{
					Name: "a", ID: "app/a", Addr: ip("10.0.0.1"), Weight: 3, Forward: ipvs.DR,
					UpperThreshold: 100, LowerThreshold: 50, InhibitOnFailure: true,
					Checks: []Check{withTarget(tcpCheck, "10.0.0.1:443")}, ChecksInherited: true,
				}, {
					Name: "10.0.0.2:443", ID: "app/10.0.0.2:443", Addr: ip("10.0.0.2"), Port: 443, Weight: 1, Forward: ipvs.NAT,
					Checks:     []Check{withTarget(icmp, "10.0.1.2:0")},
					NotifyUp:   &Hook{Command: []string{"/bin/echo", "up"}, Timeout: 30 * time.Second},
					NotifyDown: &Hook{Command: []string{"/bin/echo", "down"}, Timeout: 2 * time.Second},
				}},
			}}
		},
	}, {
		name: "firewall mark takes its family from the real servers",
		src: `
virtual_server "mark" {
  fwmark  = 42
  forward = "dr"
  persistence {
    timeout = "1h"
  }
  check "http" {
    port = 80
  }
  real_server {
    address = "2001:db8::10"
  }
  real_server {
    address = "2001:db8::11"
    check "none" {}
  }
}`,
		want: func(c *Config) {
			http := defaultCheck(CheckHTTP)
			http.Port = 80
			http.HTTP = &HTTPCheck{Method: "GET", Path: "/", Status: []StatusRange{{200, 299}}, MaxBodyBytes: 1 << 20}
			c.VirtualServers = []*VirtualServer{{
				Name:         "mark",
				Services:     []ipvs.ServiceKey{{Family: ipvs.IPv6, FWMark: 42}},
				Family:       ipvs.IPv6,
				Scheduler:    "wlc",
				Forward:      ipvs.DR,
				Persistence:  &Persistence{Timeout: time.Hour, PrefixLen: 128},
				DrainTimeout: time.Minute,
				Quorum:       1,
				Checks:       []Check{http},
				RealServers: []*RealServer{{
					Name: "2001:db8::10", ID: "mark/2001:db8::10", Addr: ip("2001:db8::10"), Weight: 1, Forward: ipvs.DR,
					Checks: []Check{withTarget(http, "[2001:db8::10]:80")}, ChecksInherited: true,
				}, {
					Name: "2001:db8::11", ID: "mark/2001:db8::11", Addr: ip("2001:db8::11"), Weight: 1, Forward: ipvs.DR,
					Checks: []Check{{Kind: CheckNone}},
				}},
			}}
		},
	}, {
		name: "check kinds and their defaults",
		src: `
virtual_server "k" {
  address  = "192.0.2.1:53"
  protocol = "udp"
  real_server {
    address = "10.0.0.1:53"
    check "https" {
      interval        = "1s"
      retry_interval  = "500ms"
      host            = "www.example.com:8443"
      status          = [200, "300-399"]
      headers         = { "x-probe" = "lvsd" }
      body_md5        = "D41D8CD98F00B204E9800998ECF8427E"
      keepalive       = true
      tls_verify      = true
      tls_ca_file     = "/etc/ssl/ca.pem"
      tls_cert_file   = "/etc/lvsd/c.pem"
      tls_key_file    = "/etc/lvsd/c.key"
    }
    check "exec" {
      command        = ["/usr/local/bin/check", "--fast"]
      user           = "nobody"
      env            = { MODE = "deep" }
      dynamic_weight = true
    }
    check "dns" {
      name      = "example.com"
      type      = "aaaa"
      transport = "tcp"
      expect    = ["2001:db8::53"]
    }
    check "udp" {
      send   = "ping\n"
      expect = "pong"
      port   = 7
    }
  }
}`,
		want: func(c *Config) {
			https := defaultCheck(CheckHTTPS)
			https.Interval, https.Timeout, https.Warmup = time.Second, time.Second, time.Second
			https.RetryInterval = 500 * time.Millisecond
			https.Target = ap("10.0.0.1:53")
			https.HTTP = &HTTPCheck{
				Method: "GET", Path: "/", Host: "www.example.com:8443", Headers: map[string]string{"X-Probe": "lvsd"},
				Status: []StatusRange{{200, 200}, {300, 399}}, BodyMD5: "d41d8cd98f00b204e9800998ecf8427e",
				MaxBodyBytes: 1 << 20, KeepAlive: true,
				TLS: &TLSSettings{ServerName: "www.example.com", Verify: true, CAFile: "/etc/ssl/ca.pem", CertFile: "/etc/lvsd/c.pem", KeyFile: "/etc/lvsd/c.key"},
			}
			exec := defaultCheck(CheckExec)
			exec.Target = ap("10.0.0.1:53")
			exec.Exec = &ExecCheck{Command: []string{"/usr/local/bin/check", "--fast"}, User: "nobody", Env: map[string]string{"MODE": "deep"}, DynamicWeight: true}
			dns := defaultCheck(CheckDNS)
			dns.Target = ap("10.0.0.1:53")
			dns.DNS = &DNSCheck{Name: "example.com.", Type: "AAAA", Transport: "tcp", Expect: []netip.Addr{ip("2001:db8::53")}}
			udp := defaultCheck(CheckUDP)
			udp.Port = 7
			udp.Target = ap("10.0.0.1:7")
			udp.UDP = &UDPCheck{Send: []byte("ping\n"), Expect: "pong"}
			c.VirtualServers = []*VirtualServer{{
				Name:     "k",
				Services: []ipvs.ServiceKey{{Family: ipvs.IPv4, Protocol: ipvs.UDP, Addr: ap("192.0.2.1:53")}},
				Family:   ipvs.IPv4, Scheduler: "wlc", Forward: ipvs.NAT, DrainTimeout: time.Minute, Quorum: 1,
				RealServers: []*RealServer{{
					Name: "10.0.0.1:53", ID: "k/10.0.0.1:53", Addr: ip("10.0.0.1"), Port: 53, Weight: 1, Forward: ipvs.NAT,
					Checks: []Check{https, exec, dns, udp},
				}},
			}}
		},
	}, {
		name: "global blocks",
		src: `
node_name = "lb-1"
logging {
  level  = "warning"
  format = "JSON"
}
control {
  socket = "/run/lvsd.sock"
  mode   = "0660"
  listen = "127.0.0.1:9588"
}
metrics {}
ipvs {
  resync_interval = "30s"
  remove_on_stop  = true
  timeouts {
    tcp     = "15m"
    tcp_fin = "2m"
  }
  sync_daemon {
    interface = "eth1"
    role      = "backup"
    sync_id   = 9
    port      = 8848
    ttl       = 2
    group     = "224.0.0.81"
    max_packet_size = 1400
  }
}
vrrp {
  state_file = "/run/lvsd/state"
  gratuitous_arp {
    count            = 3
    refresh_interval = "60s"
  }
}`,
		want: func(c *Config) {
			c.NodeName = "lb-1"
			c.Logging = Logging{Level: "warn", Format: "json"}
			c.Control = Control{Socket: "/run/lvsd.sock", Mode: 0o660, Listen: ap("127.0.0.1:9588")}
			c.Metrics = Metrics{Listen: ap(DefaultMetricsListen), Path: "/metrics"}
			c.IPVS = IPVSSettings{
				ResyncInterval: 30 * time.Second, RemoveOnStop: true,
				Timeouts:   &IPVSTimeouts{TCP: 15 * time.Minute, TCPFin: 2 * time.Minute},
				SyncDaemon: &SyncDaemon{Interface: "eth1", Role: SyncBackup, SyncID: 9, Port: 8848, TTL: 2, Group: ip("224.0.0.81"), MaxLen: 1400},
			}
			c.VRRP = VRRPSettings{StateFile: "/run/lvsd/state"}
		},
	}, {
		name: "vrrp instance, script, sync group and sync daemon",
		src: `
ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "v1"
  }
}
vrrp {
  gratuitous_arp {
    count = 2
  }
}
vrrp_script "chk" {
  command = ["/usr/bin/pgrep", "haproxy"]
  weight  = -20
  reverse = true
}
virtual_server "web" {
  address = "192.0.2.100:80"
  real_server {
    address = "10.0.0.1:80"
  }
}
vrrp_instance "v1" {
  interface         = "eth0"
  vrid              = 51
  priority          = 150
  version           = 2
  advert_interval   = "2s"
  preempt_delay     = "30s"
  auth_pass         = "secret"
  unicast_source    = "192.0.2.11"
  unicast_peers     = ["192.0.2.12"]
  virtual_addresses = ["192.0.2.100/24", { address = "198.51.100.1", interface = "eth1" }]
  # IPv6 with VRRPv2: owned and announced, not in the adverts
  virtual_addresses_excluded = ["2001:db8::100/64", { address = "192.0.2.200", interface = "eth1" }]
  gratuitous_arp {
    second_burst_delay = "0s"
  }
  track_interface "eth1" {}
  track_script "chk" {}
  track_virtual_server "web" {
    weight = -50
  }
  notify "master" {
    command = ["/bin/notify"]
  }
}
vrrp_instance "v2" {
  interface         = "eth0"
  vrid              = 52
  priority          = 255
  advert_interval   = "100ms"
  virtual_addresses = ["192.0.2.101"]
  multicast_group   = "224.0.0.88"
  track_script "chk" {
    weight  = 10
    reverse = false # the script's reverse, turned back
  }
}
vrrp_sync_group "g" {
  instances = ["v1", "v2"]
  notify "any" {
    command = ["/bin/notify-any"]
  }
}`,
		want: func(c *Config) {
			c.IPVS.SyncDaemon = &SyncDaemon{Interface: "eth0", Role: SyncFollow, VRRPInstance: "v1", SyncID: 51}
			c.VRRPScripts = []*VRRPScript{{Name: "chk", Command: []string{"/usr/bin/pgrep", "haproxy"}, Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1, Weight: -20, Reverse: true}}
			c.VirtualServers = []*VirtualServer{{
				Name: "web", Services: []ipvs.ServiceKey{tcp4("192.0.2.100:80")}, Family: ipvs.IPv4,
				Scheduler: "wlc", Forward: ipvs.NAT, DrainTimeout: time.Minute, Quorum: 1,
				RealServers: []*RealServer{{Name: "10.0.0.1:80", ID: "web/10.0.0.1:80", Addr: ip("10.0.0.1"), Port: 80, Weight: 1, Forward: ipvs.NAT}},
			}}
			c.VRRPInstances = []*VRRPInstance{{
				Name: "v1", Interface: "eth0", VRID: 51, Priority: 150, Version: 2, AdvertInterval: 2 * time.Second,
				Preempt: true, PreemptDelay: 30 * time.Second, AuthPass: "secret",
				UnicastSource: ip("192.0.2.11"), UnicastPeers: []netip.Addr{ip("192.0.2.12")},
				Family: ipvs.IPv4,
				VirtualAddresses: []VirtualAddress{
					{Prefix: pfx("192.0.2.100/24"), Interface: "eth0"},
					{Prefix: pfx("198.51.100.1/32"), Interface: "eth1"},
					{Prefix: pfx("2001:db8::100/64"), Interface: "eth0", Excluded: true},
					{Prefix: pfx("192.0.2.200/32"), Interface: "eth1", Excluded: true},
				},
				TrackInterfaces:     []Track{{Name: "eth1"}},
				TrackScripts:        []Track{{Name: "chk", Weight: -20, Reverse: true}},
				TrackVirtualServers: []Track{{Name: "web", Weight: -50}},
				GratuitousARP:       GratuitousARP{Count: 2, RefreshCount: 1},
				SyncGroup:           "g",
				Notify:              VRRPNotify{Master: &Hook{Command: []string{"/bin/notify"}, Timeout: 30 * time.Second}},
			}, {
				Name: "v2", Interface: "eth0", VRID: 52, Priority: 255, Version: 3, AdvertInterval: 100 * time.Millisecond,
				MulticastGroup: ip("224.0.0.88"),
				Preempt:        true, Family: ipvs.IPv4,
				VirtualAddresses: []VirtualAddress{{Prefix: pfx("192.0.2.101/32"), Interface: "eth0"}},
				TrackScripts:     []Track{{Name: "chk", Weight: 10, Reverse: false}},
				GratuitousARP:    GratuitousARP{Count: 2, SecondBurstDelay: 5 * time.Second, RefreshCount: 1},
				SyncGroup:        "g",
			}}
			c.SyncGroups = []*SyncGroup{{Name: "g", Instances: []string{"v1", "v2"}, Notify: VRRPNotify{Any: &Hook{Command: []string{"/bin/notify-any"}, Timeout: 30 * time.Second}}}}
		},
		// The weights decode as written; in a sync group they do not apply.
		warnings: []string{"Tracking weight ignored in a sync group", "Tracking weight ignored in a sync group", "Tracking weight ignored in a sync group"},
	}, {
		name: "variables, locals, templates, for-expressions and dynamic blocks",
		vars: map[string]string{"count": "3", "heavy": `["b2"]`, "vip": "192.0.2.7"},
		src: `
variable "vip" {
  type = string
}
variable "count" {
  type    = number
  default = 1
}
variable "heavy" {
  type    = list(string)
  default = []
}
variable "untyped" {
  default = "x"
}
locals {
  port    = 80
  servers = [for i in range(var.count) : { name = "b${i + 1}", addr = cidrhost("10.1.0.0/24", i + 10) }]
  addr    = "${var.vip}:${local.port}"
}
dynamic "virtual_server" {
  for_each = { main = local.addr }
  labels   = [virtual_server.key]
  content {
    address = virtual_server.value
    dynamic "real_server" {
      for_each = local.servers
      iterator = rs
      content {
        name    = rs.value.name
        address = rs.value.addr
        weight  = contains(var.heavy, rs.value.name) ? 10 : 1
      }
    }
  }
}`,
		want: func(c *Config) {
			rs := func(name, addr string, w uint32) *RealServer {
				return &RealServer{Name: name, ID: "main/" + name, Addr: ip(addr), Weight: w, Forward: ipvs.NAT}
			}
			c.VirtualServers = []*VirtualServer{{
				Name: "main", Services: []ipvs.ServiceKey{tcp4("192.0.2.7:80")}, Family: ipvs.IPv4,
				Scheduler: "wlc", Forward: ipvs.NAT, DrainTimeout: time.Minute, Quorum: 1,
				RealServers: []*RealServer{rs("b1", "10.1.0.10", 1), rs("b2", "10.1.0.11", 10), rs("b3", "10.1.0.12", 1)},
			}}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := ParseConfig([]byte(tt.src), "test.hcl", tt.vars)
			var summaries []string
			for _, d := range diags {
				summaries = append(summaries, d.Summary)
			}
			if diags.HasErrors() || !slices.Equal(summaries, tt.warnings) {
				t.Fatalf("diagnostics (want warnings %q):\n%s", tt.warnings, FormatDiagnostics(diags, map[string][]byte{"test.hcl": []byte(tt.src)}))
			}
			want := defaults()
			tt.want(want)
			if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
				t.Errorf("decoded config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPVSMapping(t *testing.T) {
	cfg, diags := ParseConfig([]byte(`
virtual_server "all-ports" {
  address = "192.0.2.1:0"
  forward = "dr"
  persistence {
    timeout = "300s"
    netmask = "255.255.255.0"
  }
  real_server {
    address = "10.0.0.1"
    weight  = 5
  }
}
virtual_server "group" {
  addresses = ["192.0.2.2:80", "192.0.2.2:8080"]
  one_packet = true
  protocol   = "udp"
  real_server {
    address = "10.0.0.2"
    upper_threshold = 9
  }
  real_server {
    address = "10.0.0.3:99"
  }
  sorry_server {
    address = "10.0.0.99"
  }
}
virtual_server "mark" {
  fwmark = 3
  real_server {
    address = "10.0.0.4"
  }
}`), "k.hcl", nil)
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags, nil))
	}
	all := cfg.VirtualServer("all-ports")
	svc := all.IPVSService(all.Services[0])
	want := ipvs.Service{ServiceKey: tcp4("192.0.2.1:0"), Scheduler: "wlc", Persistence: 300, PersistenceMask: 24}
	if svc != want {
		t.Errorf("service = %+v, want %+v", svc, want)
	}
	if d := all.RealServers[0].Destination(all.Services[0]); d != (ipvs.Destination{Addr: ap("10.0.0.1:0"), Forward: ipvs.DR, Weight: 5}) {
		t.Errorf("port-0 destination = %+v", d)
	}

	g := cfg.VirtualServer("group")
	if s := g.IPVSService(g.Services[1]); !s.OnePacket || s.Persistence != 0 || s.Addr != ap("192.0.2.2:8080") || s.Protocol != ipvs.UDP {
		t.Errorf("group service = %+v", s)
	}
	for i, wantPort := range []uint16{80, 8080} {
		d := g.RealServers[0].Destination(g.Services[i])
		if d.Addr != netip.AddrPortFrom(ip("10.0.0.2"), wantPort) || d.UpperThreshold != 9 {
			t.Errorf("destination for %s = %+v", g.Services[i], d)
		}
		if d := g.RealServers[1].Destination(g.Services[i]); d.Addr != ap("10.0.0.3:99") {
			t.Errorf("NAT destination with its own port for %s = %+v", g.Services[i], d)
		}
		if d := g.SorryServer.Destination(g.Services[i]); d.Addr != netip.AddrPortFrom(ip("10.0.0.99"), wantPort) || d.Weight != 1 {
			t.Errorf("sorry destination for %s = %+v", g.Services[i], d)
		}
	}

	m := cfg.VirtualServer("mark")
	if d := m.RealServers[0].Destination(m.Services[0]); d.Addr != ap("10.0.0.4:0") {
		t.Errorf("fwmark destination = %+v", d)
	}
	if cfg.VirtualServer("nope") != nil || cfg.VRRPInstance("nope") != nil {
		t.Error("lookup of an unknown name found something")
	}
	if n := cfg.RealServerCount(); n != 4 {
		t.Errorf("RealServerCount = %d, want 4", n)
	}
}

func TestHash(t *testing.T) {
	base := `
variable "w" {
  default = 1
}
virtual_server "a" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.1:80"
    weight  = var.w
  }
  real_server {
    address = "10.0.0.2:80"
  }
}
virtual_server "b" {
  address = "192.0.2.2:80"
  real_server {
    address = "10.0.0.1:80"
  }
}
`
	// The same effective configuration, reformatted, commented, with the
	// blocks in another order, split over two files.
	same1 := `# comment
virtual_server "b" {
     address = "192.0.2.2:80"
  real_server {
    address = "10.0.0.1:80"   # same
  }
}`
	same2 := `
virtual_server "a" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.2:80"
  }
  real_server {
    weight  = 1
    address = "10.0.0.1:80"
  }
}`
	hash := func(srcs ...Source) string {
		t.Helper()
		cfg, diags := ParseSources(srcs, nil)
		if diags.HasErrors() {
			t.Fatal(FormatDiagnostics(diags, nil))
		}
		h := cfg.Hash()
		if h != cfg.Hash() || len(h) != 64 {
			t.Fatalf("hash %q is not a stable hex SHA-256", h)
		}
		return h
	}
	h0 := hash(Source{"a.hcl", []byte(base)})
	if h := hash(Source{"x.hcl", []byte(same1)}, Source{"y.hcl", []byte(same2)}); h != h0 {
		t.Errorf("equivalent configuration hashes differently: %s vs %s", h, h0)
	}
	changed := strings.Replace(base, `address = "10.0.0.2:80"`, `address = "10.0.0.2:80"
    weight = 2`, 1)
	if h := hash(Source{"a.hcl", []byte(changed)}); h == h0 {
		t.Error("a weight change does not change the hash")
	}
	cfg, _ := ParseConfig([]byte(base), "a.hcl", map[string]string{"w": "7"})
	if cfg.Hash() == h0 {
		t.Error("a variable's value does not change the hash")
	}
	if cfg.VirtualServers[0].RealServers[0].Weight != 7 {
		t.Error("the -var value was not used")
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("10-web.hcl", `virtual_server "web" {
  address = "${var.vip}:80"
  real_server {
    address = local.backend
  }
}`)
	write("00-vars.hcl", `variable "vip" {
  default = "192.0.2.1"
}
locals {
  backend = "10.0.0.1:80"
}`)
	write("README", "not hcl: ignored")
	cfg, diags := LoadConfig(dir, nil)
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags, nil))
	}
	wantFiles := []string{filepath.Join(dir, "00-vars.hcl"), filepath.Join(dir, "10-web.hcl")}
	if diff := cmp.Diff(wantFiles, cfg.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if got := cfg.VirtualServers[0].RealServers[0].Addr; got != ip("10.0.0.1") {
		t.Errorf("local from another file: %s", got)
	}

	// A mistake is reported in the file that has it.
	write("20-bad.hcl", `virtual_server "web" {
  address = "192.0.2.9:80"
}`)
	_, diags = LoadConfig(dir, nil)
	if len(diags.Errs()) != 1 || diags[0].Subject.Filename != filepath.Join(dir, "20-bad.hcl") || diags[0].Subject.Start.Line != 1 {
		t.Errorf("duplicate across files: %v", diags)
	}
	if !strings.Contains(diags[0].Detail, "10-web.hcl:1:16") {
		t.Errorf("detail does not point at the first declaration: %s", diags[0].Detail)
	}

	for _, path := range []string{t.TempDir(), filepath.Join(dir, "nope.hcl")} {
		if cfg, diags := LoadConfig(path, nil); cfg != nil || !diags.HasErrors() {
			t.Errorf("LoadConfig(%s) = %v, %v; want an error", path, cfg, diags)
		}
	}
}

func TestVariableValues(t *testing.T) {
	src := []byte(`
variable "n" {
  type    = number
  default = 1
}
variable "on" {
  type    = bool
  default = false
}
variable "list" {
  type    = list(string)
  default = []
}
variable "s" {
  default = "d"
}
virtual_server "v" {
  address    = "192.0.2.1:80"
  quorum     = var.n
  one_packet = var.on
  protocol   = "udp"
  dynamic "real_server" {
    for_each = var.list
    content {
      address = "${real_server.value}:${var.s}"
    }
  }
}`)
	cfg, diags := ParseConfig(src, "v.hcl", map[string]string{"n": "2", "on": "true", "list": `["10.0.0.1", "10.0.0.2"]`, "s": "53"})
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags, map[string][]byte{"v.hcl": src}))
	}
	vs := cfg.VirtualServers[0]
	if vs.Quorum != 2 || !vs.OnePacket || len(vs.RealServers) != 2 || vs.RealServers[1].Port != 53 {
		t.Errorf("variables not applied: %+v", vs)
	}
	// Without values the defaults hold (and the empty list gives a
	// warning for a virtual server without real servers).
	cfg, diags = ParseConfig(src, "v.hcl", nil)
	if diags.HasErrors() || cfg.VirtualServers[0].Quorum != 1 || len(diags) != 1 {
		t.Errorf("defaults: %v", diags)
	}
}

func TestCidrhost(t *testing.T) {
	for _, tt := range []struct {
		prefix  string
		hostnum float64
		want    string // "" for an error
	}{
		{"10.0.1.0/24", 5, "10.0.1.5"},
		{"10.0.1.77/24", 0, "10.0.1.0"},
		{"10.0.1.0/24", -1, "10.0.1.255"},
		{"2001:db8::/64", 258, "2001:db8::102"},
		{"10.0.1.0/24", 256, ""},
		{"10.0.1.0/24", -257, ""},
		{"10.0.1.0/24", 1.5, ""},
		{"nope", 1, ""},
	} {
		v, err := cidrhostFunc.Call([]cty.Value{cty.StringVal(tt.prefix), cty.NumberFloatVal(tt.hostnum)})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("cidrhost(%q, %v) = %#v, want an error", tt.prefix, tt.hostnum, v)
		case tt.want != "" && err != nil:
			t.Errorf("cidrhost(%q, %v): %v", tt.prefix, tt.hostnum, err)
		case tt.want != "" && v.AsString() != tt.want:
			t.Errorf("cidrhost(%q, %v) = %s, want %s", tt.prefix, tt.hostnum, v.AsString(), tt.want)
		}
	}
}

// TestCidrhostInConfig uses cidrhost from a configuration, and shows that
// a diagnostic quotes the computed value.
func TestCidrhostInConfig(t *testing.T) {
	cfg, diags := ParseConfig([]byte(`virtual_server "v" {
  address = "${cidrhost("2001:db8::/64", 258)}"
}`), "f.hcl", nil)
	_ = cfg
	// "2001:db8::102" has no port: the message quotes the computed value.
	if len(diags.Errs()) != 1 || !strings.Contains(diags.Errs()[0].Error(), `"2001:db8::102" has no port`) {
		t.Errorf("diagnostics: %v", diags)
	}
}

func TestExpansionIsBounded(t *testing.T) {
	// 1024^3 elements would take minutes and gigabytes; range() has a
	// budget per load.
	src := `locals {
  big = flatten([for a in range(1024) : [for b in range(1024) : [for c in range(1024) : c]]])
}`
	start := time.Now()
	_, diags := ParseConfig([]byte(src), "big.hcl", nil)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "range() produced more than") {
		t.Errorf("diagnostics: %v", diags)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestJSONView(t *testing.T) {
	cfg, diags := ParseConfig([]byte(`
control {
  mode = "0640"
}
virtual_server "v" {
  address = "192.0.2.1:80"
  forward = "dr"
  check "tcp" {
    send_hex = "00ff"
  }
  real_server {
    address = "10.0.0.1"
  }
}`), "v.hcl", nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	b, err := cfg.JSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Mode": "0640"`, `"Forward": "dr"`, `"tcp 192.0.2.1:80"`, `"DrainTimeout": "1m0s"`, `"Send": "hex:00ff"`, `"Target": "10.0.0.1:80"`, `"Address": ""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON view lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "DefRange") || strings.Contains(string(b), `"Persistence"`) {
		t.Errorf("JSON view shows hidden or unset fields:\n%s", b)
	}
}

func TestCheckKeys(t *testing.T) {
	cfg, diags := LoadConfig("../examples/dns-udp.hcl", nil)
	if diags.HasErrors() {
		t.Fatal(FormatDiagnostics(diags, nil))
	}
	udp, tcp := cfg.VirtualServer("dns-udp"), cfg.VirtualServer("dns-tcp")
	for i := range udp.RealServers {
		a, b := udp.RealServers[i].Checks[0], tcp.RealServers[i].Checks[0]
		if a.Key() != b.Key() {
			t.Errorf("the same check of %s under two virtual servers has two keys", a.Target)
		}
		if i > 0 && a.Key() == udp.RealServers[0].Checks[0].Key() {
			t.Errorf("checks of different targets share a key")
		}
	}
	c := udp.RealServers[0].Checks[0]
	c.Fall++
	if c.Key() == udp.RealServers[0].Checks[0].Key() {
		t.Error("a different fall count does not change the key")
	}
}

func TestSyntaxErrorStopsEarly(t *testing.T) {
	// A file that does not parse is not decoded: the parse error alone.
	_, diags := ParseSources([]Source{
		{"ok.hcl", []byte(`virtual_server "a" { bogus = 1 }`)},
		{"bad.hcl", []byte(`virtual_server "b" {`)},
	}, nil)
	if len(diags) != 1 || diags[0].Subject.Filename != "bad.hcl" {
		t.Errorf("diagnostics: %v", diags)
	}
}
