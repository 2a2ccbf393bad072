package director

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/ipvs"
)

// checkDefinition maps one resolved check of a real server onto the
// checkers package. Every default is already applied by the decoder; the
// only translations are of names (body_md5 is an md5 digest, tls_verify
// is the inverse of insecure) and of warmup = "0s", which the checkers
// spell as a negative warmup.
func checkDefinition(cfg *Config, vs *VirtualServer, rs *RealServer, c Check) (checkers.Definition, error) {
	def := checkers.Definition{
		Target: c.Target,
		Settings: checkers.Settings{
			Interval:      c.Interval,
			RetryInterval: c.RetryInterval,
			Timeout:       c.Timeout,
			Rise:          c.Rise,
			Fall:          c.Fall,
			Warmup:        c.Warmup,
			StartDown:     c.StartDown,
			Source:        c.SourceAddress,
			Interface:     c.SourceInterface,
		},
	}
	if c.Warmup == 0 {
		def.Settings.Warmup = -1 // "0s": the first check at once
	}
	switch c.Kind {
	case CheckICMP:
		def.Spec = checkers.ICMPSpec{}
	case CheckTCP:
		s := checkers.TCPSpec{}
		if c.TCP != nil {
			s.Send, s.Expect = string(c.TCP.Send), c.TCP.Expect
		}
		def.Spec = s
	case CheckUDP:
		s := checkers.UDPSpec{NoReplyOK: true}
		if c.UDP != nil {
			s.Payload, s.Expect = c.UDP.Send, c.UDP.Expect
			s.NoReplyOK = c.UDP.Expect == ""
		}
		def.Spec = s
	case CheckHTTP, CheckHTTPS:
		h := c.HTTP
		if h == nil {
			h = &HTTPCheck{}
		}
		s := checkers.HTTPSpec{
			TLS:       c.Kind == CheckHTTPS,
			Method:    h.Method,
			Path:      h.Path,
			Host:      h.Host,
			Header:    h.Headers,
			BodyRegex: h.BodyRegex,
			MaxBody:   h.MaxBodyBytes,
			KeepAlive: h.KeepAlive,
		}
		for _, r := range h.Status {
			s.Status = append(s.Status, checkers.StatusRange{From: r.Min, To: r.Max})
		}
		if h.BodyMD5 != "" {
			s.Digest = "md5:" + h.BodyMD5
		}
		if c.Kind == CheckHTTPS {
			// The configuration follows keepalived: no verification
			// unless asked for.
			s.Insecure = true
			if t := h.TLS; t != nil {
				s.Insecure = !t.Verify
				s.SNI, s.CAFile, s.CertFile, s.KeyFile = t.ServerName, t.CAFile, t.CertFile, t.KeyFile
			}
		}
		def.Spec = s
	case CheckExec:
		e := c.Exec
		if e == nil {
			return def, fmt.Errorf("%s: exec check without a command", rs.ID)
		}
		// The hook variables make the check specific to this real
		// server: exec checks are not shared across virtual servers.
		env := hookEnv(cfg, vs, rs, "")
		for _, k := range slices.Sorted(maps.Keys(e.Env)) {
			env = append(env, k+"="+e.Env[k])
		}
		def.Spec = checkers.ExecSpec{Command: e.Command, Env: env, DynamicWeight: e.DynamicWeight, User: e.User}
	case CheckDNS:
		d := c.DNS
		if d == nil {
			d = &DNSCheck{}
		}
		def.Spec = checkers.DNSSpec{Name: d.Name, Type: d.Type, Expect: d.Expect, TCP: d.Transport == "tcp"}
	default:
		return def, fmt.Errorf("%s: check kind %q has no checker", rs.ID, c.Kind)
	}
	return def, nil
}

// registrations lists the checks of every real server, owned by the real
// server's ID. The checkers Runner runs identical checks (same kind,
// target and settings) once for all their owners. assumeUp names real
// servers whose new checks start up whatever start_down says.
func registrations(cfg *Config, assumeUp map[string]bool) ([]checkers.Registration, error) {
	var regs []checkers.Registration
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checks {
				if c.Kind == CheckNone {
					continue
				}
				def, err := checkDefinition(cfg, vs, rs, c)
				if err != nil {
					return nil, err
				}
				regs = append(regs, checkers.Registration{Owner: rs.ID, Check: def, AssumeUp: assumeUp[rs.ID]})
			}
		}
	}
	return regs, nil
}

// checked reports whether rs has a check that can fail.
func checked(rs *RealServer) bool {
	for _, c := range rs.Checks {
		if c.Kind != CheckNone {
			return true
		}
	}
	return false
}

// hookEnv is the environment docs/config.md promises hooks and exec
// checks: LVSD_NODE, LVSD_VS, LVSD_VS_SERVICES and, with rs, LVSD_RS,
// LVSD_RS_ADDR and LVSD_RS_WEIGHT; LVSD_EVENT when event is set.
func hookEnv(cfg *Config, vs *VirtualServer, rs *RealServer, event string) []string {
	var env []string
	if event != "" {
		env = append(env, "LVSD_EVENT="+event)
	}
	env = append(env, "LVSD_NODE="+cfg.NodeName)
	if vs != nil {
		env = append(env, "LVSD_VS="+vs.Name, "LVSD_VS_SERVICES="+servicesString(vs.Services))
	}
	if rs != nil {
		env = append(env, "LVSD_RS="+rs.ID, "LVSD_RS_ADDR="+rsAddr(rs), "LVSD_RS_WEIGHT="+strconv.FormatUint(uint64(rs.Weight), 10))
	}
	return env
}

// rsAddr is the real server's address:port, or its address when it has
// no port of its own.
func rsAddr(rs *RealServer) string {
	if rs.Port == 0 {
		return rs.Addr.String()
	}
	return netip.AddrPortFrom(rs.Addr, rs.Port).String()
}

func servicesString(keys []ipvs.ServiceKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, " ")
}
