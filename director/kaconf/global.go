package kaconf

import (
	"net/netip"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// globalState is what global_defs sets for the rest of the conversion.
type globalState struct {
	nodeName string
	nodePos  Pos
	// garp is the global vrrp { gratuitous_arp { } } block, filled by the
	// vrrp_garp_* keywords.
	garp     *hblock
	garpPos  Pos
	timeouts *hblock
	timePos  Pos
	// defaultInterface is where keepalived puts addresses without dev when
	// an instance has no interface.
	defaultInterface string
	// mcastGroup4 and mcastGroup6 (vrrp_mcast_group4/6) are the multicast
	// groups of the instances without their own mcast_dst_ip, when not
	// the RFCs' groups.
	mcastGroup4, mcastGroup6 netip.Addr
}

// sslState is the global SSL block: keepalived's client settings for
// every SSL_GET.
type sslState struct {
	certFile, keyFile string
}

func (c *conv) globalDefs(n *Node) {
	g := &c.globals
	for _, s := range n.Block {
		kw := s.Keyword()
		switch kw {
		case "router_id":
			c.noBlock(s)
			if s.Arg(0) == "" {
				c.warn(s.Pos, "router_id needs a value; ignored")
				continue
			}
			g.nodeName, g.nodePos = s.Arg(0), s.Pos
		case "vrrp_version":
			if v, ok := c.uintArg(s, 0, 2, 3); ok {
				c.version = int(v)
			}
		case "vrrp_garp_master_delay":
			if v, ok := c.uintArg(s, 0, 0, 3600); ok {
				c.garp(s).setDuration("second_burst_delay", time.Duration(v)*time.Second)
			}
		case "vrrp_garp_master_repeat":
			if v, ok := c.uintArg(s, 0, 0, 1000); ok {
				c.garpCount(s, c.garp(s), "count", v)
			}
		case "vrrp_garp_master_refresh":
			if v, ok := c.uintArg(s, 0, 0, 86400); ok {
				c.garp(s).setDuration("refresh_interval", time.Duration(v)*time.Second)
			}
		case "vrrp_garp_master_refresh_repeat":
			if v, ok := c.uintArg(s, 0, 0, 1000); ok {
				c.garpCount(s, c.garp(s), "refresh_count", v)
			}
		case "vrrp_garp_interval":
			if d, ok := c.timerArg(s, 0, 10*time.Second); ok {
				c.garp(s).setDuration("interval", d)
			}
		case "vrrp_gna_interval":
			c.ignored(s, "lvsd spaces gratuitous ARPs and unsolicited neighbour advertisements with one interval, vrrp { gratuitous_arp { interval } }")
		case "vrrp_min_garp":
			if v, ok := c.boolArg(s, 0); ok && v {
				b := c.garp(s)
				b.setInt("count", 1)
				b.setDuration("second_burst_delay", 0, "keepalived vrrp_min_garp: one gratuitous ARP, no second burst")
			}
		case "lvs_timeouts":
			c.lvsTimeouts(s)
		case "lvs_sync_daemon":
			c.syncd, c.syncdFrom = s, "global_defs"
		case "default_interface":
			g.defaultInterface = s.Arg(0)
			c.note(s.Pos, "default_interface %s: used only for instances without an interface", s.Arg(0))
		case "script_user":
			c.warn(s.Pos, "script_user is ignored: lvsd runs scripts and hooks as its own user unless a vrrp_script or exec check sets user; add user = %q to the ones that need it", s.Arg(0))
		case "enable_script_security":
			c.warn(s.Pos, "enable_script_security: lvsd does not check the permissions of the scripts it runs; make sure only root can write them")
		case "notification_email", "notification_email_from", "smtp_server", "smtp_helo_name", "smtp_connect_timeout",
			"smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults", "no_checker_emails":
			c.ignored(s, "lvsd sends no e-mail: use notify hooks, or alert on its Prometheus metrics")
		case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script",
			"lvs_notify_fifo", "lvs_notify_fifo_script", "fifo_write_vrrp_states_on_reload", "vrrp_notify_priority_changes":
			c.ignored(s, "lvsd has no notify FIFO: use notify hooks, vrrp { state_file }, or the control API")
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			six := kw == "vrrp_mcast_group6"
			def := map[bool]netip.Addr{false: netip.MustParseAddr("224.0.0.18"), true: netip.MustParseAddr("ff02::12")}[six]
			a, err := netip.ParseAddr(s.Arg(0))
			switch {
			case err != nil || !a.IsMulticast() || a.Is6() != six || a.Is4In6():
				c.warn(s.Pos, "%s %s: not an IPv%s multicast address; ignored (the instances use %s)", kw, s.Arg(0), map[bool]string{false: "4", true: "6"}[six], def)
			case a == def:
				c.note(s.Pos, "%s %s is the default", kw, s.Arg(0))
			case six:
				g.mcastGroup6 = a
				c.note(s.Pos, "%s %s: set as multicast_group of every IPv6 instance without mcast_dst_ip", kw, s.Arg(0))
			default:
				g.mcastGroup4 = a
				c.note(s.Pos, "%s %s: set as multicast_group of every IPv4 instance without mcast_dst_ip", kw, s.Arg(0))
			}
		case "vrrp_strict":
			c.ignored(s, "lvsd installs no firewall rules and always accepts packets to its virtual addresses; what strict mode rejects in the configuration lvsd reports by itself")
		case "vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_counters", "nftables_ifindex",
			"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "vrrp_nftables", "disable_local_igmp":
			c.ignored(s, "lvsd installs no firewall rules")
		case "lvs_flush":
			c.note(s.Pos, "lvs_flush: lvsd never flushes the IPVS table; it adopts what is there and changes only the services it declares")
		case "lvs_flush_on_stop":
			c.warn(s.Pos, "lvs_flush_on_stop: lvsd leaves the IPVS table as it is on stop (hitless restarts); ipvs { remove_on_stop = true } removes the services it declares, never the others")
		case "vrrp_startup_delay":
			c.ignored(s, "delay lvsd's start in its systemd unit instead (ExecStartPre=/bin/sleep N), or use preempt_delay")
		case "startup_script", "startup_script_timeout", "shutdown_script", "shutdown_script_timeout":
			c.ignored(s, "run it from lvsd's systemd unit: ExecStartPre= / ExecStopPost=")
		case "checker_log_all_failures":
			c.note(s.Pos, "checker_log_all_failures: lvsd logs each state change and counts every result in its metrics")
		case "enable_snmp_vrrp", "enable_snmp_checker", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
			"enable_snmp_keepalived", "snmp_socket", "enable_traps":
			c.ignored(s, "lvsd exports Prometheus metrics instead of SNMP (a metrics { } block)")
		case "enable_dbus", "dbus_service_name":
			c.ignored(s, "lvsd's control API is JSON over a unix socket")
		case "vrrp_skip_check_adv_addr", "vrrp_check_unicast_src", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert",
			"vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_down_timer_adverts", "vrrp_garp_extra_if",
			"vrrp_garp_extra_if_vmac", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "log_unknown_vrids",
			"vmac_prefix", "vmac_addr_prefix":
			c.ignored(s, "VRRP detail lvsd does not configure: it follows RFC 5798")
		case "dynamic_interfaces":
			c.note(s.Pos, "dynamic_interfaces: lvsd accepts interfaces that do not exist yet and follows them as they appear")
		case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets", "instance", "use_pid_dir",
			"process_names", "process_name", "vrrp_process_name", "checker_process_name", "bfd_process_name",
			"max_auto_priority", "min_auto_priority_delay", "vrrp_priority", "checker_priority", "bfd_priority",
			"vrrp_no_swap", "checker_no_swap", "bfd_no_swap", "vrrp_cpu_affinity", "checker_cpu_affinity", "bfd_cpu_affinity",
			"vrrp_rt_priority", "checker_rt_priority", "bfd_rt_priority", "vrrp_rlimit_rttime", "checker_rlimit_rttime",
			"bfd_rlimit_rttime", "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force",
			"vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs",
			"lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force",
			"process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force", "umask", "tmp_config_directory",
			"config_save_dir", "reload_check_config", "reload_time_file", "reload_repeat", "reload_file",
			"data_use_instance", "random_seed", "include_check", "child_wait_time", "linkbeat_use_polling",
			"rs_init_notifies", "no_checker_log", "smtp_alert_file":
			c.ignored(s, "keepalived process setting")
		default:
			c.unknown(s, "global_defs")
		}
	}
}

// garp returns the global gratuitous_arp block.
func (c *conv) garp(s *Node) *hblock {
	if c.globals.garp == nil {
		c.globals.garp = newBlock("gratuitous_arp")
		c.globals.garp.comments = []string{"from keepalived's vrrp_garp_* in global_defs"}
		c.globals.garpPos = s.Pos
	}
	return c.globals.garp
}

// garpCount sets a gratuitous ARP packet count (lvsd: 1..100).
func (c *conv) garpCount(s *Node, b *hblock, name string, v int64) {
	switch {
	case v == 0:
		c.warn(s.Pos, "%s 0: lvsd always sends at least one gratuitous ARP; imported as 1", s.Keyword())
		v = 1
	case v > 100:
		c.warn(s.Pos, "%s %d: lvsd sends at most 100; imported as 100", s.Keyword(), v)
		v = 100
	}
	b.setInt(name, v)
}

func (c *conv) lvsTimeouts(s *Node) {
	args := s.Args()
	if len(args) == 0 {
		c.warn(s.Pos, "lvs_timeouts needs tcp, tcpfin or udp; ignored")
		return
	}
	b := newBlock("timeouts")
	b.comments = []string{from(s.Pos)}
	names := map[string]string{"tcp": "tcp", "tcpfin": "tcp_fin", "udp": "udp"}
	for i := 0; i < len(args); i++ {
		name, ok := names[args[i]]
		if !ok || i+1 >= len(args) {
			c.warn(s.Pos, "lvs_timeouts: %q is not tcp SECS, tcpfin SECS or udp SECS; ignored", args[i])
			continue
		}
		i++
		v, err := parseSeconds(args[i])
		if err != nil || v < 1 || v > 86400*365 {
			c.warn(s.Pos, "lvs_timeouts %s %s: not a number of seconds; ignored", args[i-1], args[i])
			continue
		}
		b.setDuration(name, time.Duration(v)*time.Second)
	}
	if len(b.items) > 0 {
		c.globals.timeouts, c.globals.timePos = b, s.Pos
	}
}

func parseSeconds(s string) (int64, error) {
	var v int64
	if s == "" {
		return 0, errNotNumber
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || v > 1<<40 {
			return 0, errNotNumber
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, nil
}

type numberError struct{}

func (numberError) Error() string { return "not a number" }

var errNotNumber error = numberError{}

// syncDaemon converts lvs_sync_daemon (global_defs) or
// lvs_sync_daemon_interface (an old vrrp_instance keyword).
func (c *conv) syncDaemon() *hblock {
	s := c.syncd
	if s == nil {
		return nil
	}
	b := newBlock("sync_daemon")
	b.comments = []string{from(s.Pos)}
	args := s.Args()
	if len(args) == 0 {
		c.warn(s.Pos, "%s needs an interface; ignored", s.Keyword())
		return nil
	}
	b.setString("interface", args[0])
	inst := ""
	if s.Keyword() == "lvs_sync_daemon_interface" {
		inst = c.syncdFrom
		args = nil
	} else {
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		kw := args[i]
		val := ""
		if i+1 < len(args) {
			val = args[i+1]
		}
		switch kw {
		case "inst":
			inst = val
			i++
		case "id", "maxlen", "port", "ttl":
			i++
			max := map[string]int64{"id": 255, "maxlen": 65507, "port": 65535, "ttl": 255}[kw]
			min := map[string]int64{"id": 0, "maxlen": 1, "port": 1, "ttl": 1}[kw]
			v, err := parseSeconds(val)
			if err != nil || v < min || v > max {
				c.warn(s.Pos, "lvs_sync_daemon %s %s: not a number in [%d, %d]; ignored", kw, val, min, max)
				continue
			}
			name := map[string]string{"id": "sync_id", "maxlen": "max_packet_size", "port": "port", "ttl": "ttl"}[kw]
			b.setInt(name, v)
		case "group":
			i++
			if a, err := netip.ParseAddr(val); err != nil || !a.IsMulticast() {
				c.warn(s.Pos, "lvs_sync_daemon group %s: not a multicast address; ignored", val)
				continue
			}
			b.setString("group", val)
		default:
			if inst == "" {
				inst = kw
				continue
			}
			c.warn(s.Pos, "lvs_sync_daemon: unknown option %q; ignored", kw)
		}
	}
	if inst == "" {
		b.setString("role", "both", "keepalived without an instance runs the master and the backup daemon together")
		return b
	}
	name, ok := c.nameOf("vrrp_instance", inst)
	if !ok {
		c.warn(s.Pos, "lvs_sync_daemon follows vrrp_instance %q, which is not imported; the sync daemon is left out", inst)
		return nil
	}
	b.set("vrrp_instance", cty.StringVal(name))
	return b
}

func (c *conv) emitGlobals() {
	g := &c.globals
	if g.nodeName != "" {
		name := nameInvalid.ReplaceAllString(g.nodeName, "_")
		if name[0] == '.' || name[0] == '-' {
			name = "_" + name
		}
		if len(name) > 64 {
			name = name[:64]
		}
		if name != g.nodeName {
			c.note(g.nodePos, "router_id %q is node_name %q in lvsd (letters, digits, '_', '.', '-')", g.nodeName, name)
		}
		c.root.setString("node_name", name, from(g.nodePos)+" (router_id)")
	}
	if g.garp != nil {
		v := newBlock("vrrp")
		v.add(g.garp)
		c.root.add(v)
	}
	if g.timeouts != nil || c.syncd != nil {
		ip := newBlock("ipvs")
		if g.timeouts != nil {
			ip.add(g.timeouts)
		}
		if sd := c.syncDaemon(); sd != nil {
			ip.add(sd)
		}
		if len(ip.items) > 0 {
			c.root.add(ip)
		}
	}
}

func (c *conv) sslBlock(n *Node) {
	for _, s := range n.Block {
		switch s.Keyword() {
		case "password":
			c.warn(s.Pos, "SSL password: lvsd reads unencrypted client keys only; decrypt the key (openssl pkey) and point tls_key_file at it")
		case "ca":
			c.warn(s.Pos, "SSL ca %s: keepalived loads it but never verifies server certificates, and lvsd's https checks do not either unless tls_verify = true; not imported (add tls_verify and tls_ca_file to the https checks to verify)", s.Arg(0))
		case "certificate":
			c.ssl.certFile = relPath(s.Arg(0), s.Pos)
		case "key":
			c.ssl.keyFile = relPath(s.Arg(0), s.Pos)
		default:
			c.unknown(s, "SSL")
		}
	}
	if (c.ssl.certFile == "") != (c.ssl.keyFile == "") {
		c.warn(n.Pos, "SSL: a client certificate needs both certificate and key; ignored")
		c.ssl = sslState{}
	}
}
