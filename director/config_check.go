package director

import (
	"encoding/hex"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"

	"github.com/lvsd/lvsd/ipvs"
)

// kindSettings lists each kind's own attributes, for the hint on an
// attribute given to the wrong kind.
var kindSettings = map[CheckKind][]string{
	CheckTCP:   {"send", "send_hex", "expect"},
	CheckUDP:   {"send", "send_hex", "expect"},
	CheckHTTP:  {"method", "path", "host", "headers", "status", "body_regex", "body_md5", "max_body_bytes", "keepalive"},
	CheckHTTPS: {"method", "path", "host", "headers", "status", "body_regex", "body_md5", "max_body_bytes", "keepalive", "tls_server_name", "tls_verify", "tls_ca_file", "tls_cert_file", "tls_key_file"},
	CheckExec:  {"command", "user", "env", "dynamic_weight"},
	CheckDNS:   {"name", "type", "transport", "expect"},
}

// needsPort reports whether a kind probes a port.
func (k CheckKind) needsPort() bool {
	switch k {
	case CheckTCP, CheckUDP, CheckHTTP, CheckHTTPS, CheckDNS:
		return true
	}
	return false
}

var dnsTypes = []string{"A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}

func (d *decoder) decodeCheck(r *rawCheck) (Check, bool) {
	c := Check{Kind: CheckKind(strings.ToLower(r.Kind)), DefRange: r.DefRange}
	if !slices.Contains(CheckKinds, c.Kind) {
		names := make([]string, len(CheckKinds))
		for i, k := range CheckKinds {
			names[i] = string(k)
		}
		d.errAt(r.LabelRange, "Unknown check kind", "%q is not a check kind; lvsd has %s.%s", r.Kind, quoteList(names), suggest(r.Kind, names))
		return c, false
	}
	errs := len(d.diags.Errs())

	if c.Kind == CheckNone {
		for _, a := range []*hcl.Attribute{r.Interval, r.RetryInterval, r.Timeout, r.Warmup, r.Rise, r.Fall, r.StartDown, r.SourceAddress, r.SourceInterface, r.Address, r.Port} {
			if a != nil {
				d.errAt(a.NameRange, "Setting on a none check", "A none check only declares the real server always up; it takes no %s.", a.Name)
			}
		}
		d.decodeKindBody(r, &rawEmptyCheck{}, c.Kind)
		return c, len(d.diags.Errs()) == errs
	}

	c.Interval = DefaultCheckInterval
	c.Rise, c.Fall = DefaultRise, DefaultFall
	if v, ok := d.duration(r.Interval, 10*time.Millisecond, time.Hour); ok {
		c.Interval = v
	}
	c.RetryInterval = c.Interval
	if v, ok := d.duration(r.RetryInterval, 10*time.Millisecond, time.Hour); ok {
		c.RetryInterval = v
	}
	c.Timeout = min(DefaultCheckTimeout, c.Interval)
	if v, ok := d.duration(r.Timeout, time.Millisecond, time.Hour); ok {
		c.Timeout = v
		if v > c.Interval {
			d.warnAttr(r.Timeout, "Timeout longer than the interval", "timeout %s is longer than the interval %s: a hanging target is probed at most once per timeout, so failures are seen later than the interval suggests.", v, c.Interval)
		}
	}
	c.Warmup = c.Interval
	if v, ok := d.duration(r.Warmup, 0, time.Hour); ok {
		c.Warmup = v
	}
	if v, ok := d.integer(r.Rise, 1, 1000); ok {
		c.Rise = int(v)
	}
	if v, ok := d.integer(r.Fall, 1, 1000); ok {
		c.Fall = int(v)
	}
	if v, ok := d.boolean(r.StartDown); ok {
		c.StartDown = v
	}
	if ip, ok := d.addr(r.SourceAddress); ok {
		c.SourceAddress = ip
	}
	if s, ok := d.iface(r.SourceInterface); ok {
		c.SourceInterface = s
	}
	if ip, ok := d.addr(r.Address); ok {
		c.Address = ip
		if c.SourceAddress.IsValid() && ipvs.FamilyOf(ip) != ipvs.FamilyOf(c.SourceAddress) {
			d.errAttr(r.SourceAddress, "Mixed address families", "source_address %s and address %s are not of the same family.", c.SourceAddress, ip)
		}
	}
	if v, ok := d.integer(r.Port, 1, 65535); ok {
		c.Port = uint16(v)
	}
	switch c.Kind {
	case CheckICMP:
		if r.Port != nil {
			d.errAt(r.Port.NameRange, "Port on an icmp check", "An icmp check pings an address; it has no port.")
		}
	case CheckExec:
		for _, a := range []*hcl.Attribute{r.Address, r.Port, r.SourceAddress, r.SourceInterface} {
			if a != nil {
				d.errAt(a.NameRange, "Setting on an exec check", "An exec check runs a command, so %s does not apply; pass what the command needs in its arguments (the real server's address is in its environment).", a.Name)
			}
		}
	}

	switch c.Kind {
	case CheckICMP:
		d.decodeKindBody(r, &rawEmptyCheck{}, c.Kind)
	case CheckTCP, CheckUDP:
		// The kind's attributes are decoded even when the body has an
		// unknown one, to report their mistakes too.
		var raw rawTCPCheck
		d.decodeKindBody(r, &raw, c.Kind)
		send, expect := d.decodePayload(&raw, c.Kind)
		if c.Kind == CheckTCP {
			c.TCP = &TCPCheck{Send: send, Expect: expect}
		} else {
			c.UDP = &UDPCheck{Send: send, Expect: expect}
		}
	case CheckHTTP, CheckHTTPS:
		var raw rawHTTPCheck
		d.decodeKindBody(r, &raw, c.Kind)
		c.HTTP = d.decodeHTTPCheck(&raw, c.Kind)
	case CheckExec:
		var raw rawExecCheck
		d.decodeKindBody(r, &raw, c.Kind)
		c.Exec = d.decodeExecCheck(&raw, r.DefRange)
	case CheckDNS:
		var raw rawDNSCheck
		d.decodeKindBody(r, &raw, c.Kind)
		c.DNS = d.decodeDNSCheck(&raw, r.DefRange)
	}
	return c, len(d.diags.Errs()) == errs
}

var unsupportedArgRE = regexp.MustCompile(`An argument named "([^"]+)" is not expected here`)

// decodeKindBody decodes the rest of a check block against the kind's own
// schema, adding a hint to an attribute that belongs to another kind.
func (d *decoder) decodeKindBody(r *rawCheck, raw any, kind CheckKind) {
	diags := gohcl.DecodeBody(r.Remain, d.ctx, raw)
	for _, diag := range diags {
		m := unsupportedArgRE.FindStringSubmatch(diag.Detail)
		if m == nil {
			continue
		}
		var kinds []string
		for _, k := range CheckKinds {
			if slices.Contains(kindSettings[k], m[1]) {
				kinds = append(kinds, string(k))
			}
		}
		if len(kinds) > 0 {
			diag.Detail = strings.TrimSuffix(diag.Detail, ".") + ": it is a setting of " + strings.Join(kinds, " and ") + " checks, not of " + string(kind) + " checks."
		}
	}
	d.diags = append(d.diags, diags...)
}

func (d *decoder) decodePayload(raw *rawTCPCheck, kind CheckKind) ([]byte, string) {
	var send []byte
	if s, ok := d.str(raw.Send); ok {
		send = []byte(s)
	}
	if s, ok := d.str(raw.SendHex); ok {
		if raw.Send != nil {
			d.errAt(raw.SendHex.NameRange, "Conflicting attributes", "send and send_hex are mutually exclusive.")
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			d.errAttr(raw.SendHex, "Invalid hex", "send_hex must be hexadecimal bytes (spaces allowed), e.g. \"de ad be ef\".")
		} else {
			send = b
		}
	}
	if kind == CheckUDP && len(send) > 65507 {
		d.errAt(raw.Send.Range, "Payload too large", "A UDP payload is at most 65507 bytes, not %d.", len(send))
	}
	expect, _ := d.regexp(raw.Expect)
	return send, expect
}

func (d *decoder) regexp(a *hcl.Attribute) (string, bool) {
	s, ok := d.str(a)
	if !ok {
		return "", false
	}
	if _, err := regexp.Compile(s); err != nil {
		d.errAttr(a, "Invalid regular expression", "%s: %v (the syntax is Go's RE2).", a.Name, err)
		return "", false
	}
	return s, true
}

func (d *decoder) decodeHTTPCheck(raw *rawHTTPCheck, kind CheckKind) *HTTPCheck {
	h := &HTTPCheck{
		Method:       "GET",
		Path:         "/",
		Status:       []StatusRange{{200, 299}},
		MaxBodyBytes: DefaultMaxBodyBytes,
	}
	if s, ok := d.str(raw.Method); ok {
		if v, ok := d.oneOf(raw.Method, s, "get", "head"); ok {
			h.Method = strings.ToUpper(v)
		}
	}
	if s, ok := d.str(raw.Path); ok {
		u, err := url.ParseRequestURI(s)
		if err != nil || !strings.HasPrefix(s, "/") || u.Host != "" {
			d.errAttr(raw.Path, "Invalid path", "path must be a URL path (with an optional ?query) starting with /, not %q.", s)
		} else {
			h.Path = s
		}
	}
	if s, ok := d.str(raw.Host); ok {
		if s == "" || strings.ContainsAny(s, " /\t\r\n") {
			d.errAttr(raw.Host, "Invalid host", "host is the Host header (a name, optionally with :port), not %q.", s)
		} else {
			h.Host = s
		}
	}
	if m, ok := d.strMap(raw.Headers); ok {
		h.Headers = map[string]string{}
		for k, v := range m {
			switch {
			case !validHeaderName(k):
				d.errAttr(raw.Headers, "Invalid header", "%q is not a valid HTTP header name.", k)
			case strings.ContainsAny(v, "\r\n"):
				d.errAttr(raw.Headers, "Invalid header", "The value of header %q has a line break.", k)
			case http.CanonicalHeaderKey(k) == "Host":
				d.errAttr(raw.Headers, "Host in headers", "Set the Host header with the host attribute.")
			default:
				h.Headers[http.CanonicalHeaderKey(k)] = v
			}
		}
	}
	if list, ranges, ok := d.strList(raw.Status); ok {
		h.Status = nil
		for i, s := range list {
			sr, err := parseStatusRange(s)
			if err != "" {
				d.errAt(ranges[i], "Invalid status", "%q: %s.", s, err)
				continue
			}
			h.Status = append(h.Status, sr)
		}
		if len(list) == 0 {
			d.errAttr(raw.Status, "No status", "status is empty: no response could pass.")
		}
	}
	if s, ok := d.regexp(raw.BodyRegex); ok {
		h.BodyRegex = s
	}
	if s, ok := d.str(raw.BodyMD5); ok {
		if b, err := hex.DecodeString(s); err != nil || len(b) != 16 {
			d.errAttr(raw.BodyMD5, "Invalid MD5 digest", "body_md5 must be 32 hexadecimal digits (as `md5sum` or keepalived's genhash print), not %q.", s)
		} else {
			h.BodyMD5 = strings.ToLower(s)
		}
	}
	if v, ok := d.integer(raw.MaxBodyBytes, 1, 64<<20); ok {
		h.MaxBodyBytes = v
	}
	if v, ok := d.boolean(raw.KeepAlive); ok {
		h.KeepAlive = v
	}
	if h.Method == "HEAD" && (h.BodyRegex != "" || h.BodyMD5 != "") {
		d.errAttr(raw.Method, "HEAD has no body", "A HEAD response has no body to match body_regex or body_md5 against: use GET.")
	}

	tlsAttrs := []*hcl.Attribute{raw.TLSServerName, raw.TLSVerify, raw.TLSCAFile, raw.TLSCertFile, raw.TLSKeyFile}
	if kind == CheckHTTP {
		for _, a := range tlsAttrs {
			if a != nil {
				d.errAt(a.NameRange, "TLS setting on an http check", "%s is a setting of https checks; this check speaks plain HTTP (use check \"https\").", a.Name)
			}
		}
		return h
	}
	t := &TLSSettings{}
	if h.Host != "" {
		t.ServerName = hostOnly(h.Host)
	}
	if s, ok := d.str(raw.TLSServerName); ok {
		t.ServerName = s
	}
	if v, ok := d.boolean(raw.TLSVerify); ok {
		t.Verify = v
	}
	for _, x := range []struct {
		a   *hcl.Attribute
		dst *string
	}{{raw.TLSCAFile, &t.CAFile}, {raw.TLSCertFile, &t.CertFile}, {raw.TLSKeyFile, &t.KeyFile}} {
		if s, ok := d.str(x.a); ok && d.absPath(x.a, s) {
			*x.dst = s
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") && (raw.TLSCertFile != nil) != (raw.TLSKeyFile != nil) {
		a := raw.TLSCertFile
		if a == nil {
			a = raw.TLSKeyFile
		}
		d.errAt(a.NameRange, "Incomplete client certificate", "tls_cert_file and tls_key_file go together.")
	}
	if raw.TLSCAFile != nil && !t.Verify {
		d.warnAt(raw.TLSCAFile.NameRange, "CA file unused", "tls_ca_file is only used to verify the server's certificate, which happens with tls_verify = true.")
	}
	h.TLS = t
	return h
}

// hostOnly strips the port from a Host header value ("name:port",
// "[v6]:port", "name", "v6").
func hostOnly(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], ":") {
		return s[:i]
	}
	return strings.Trim(s, "[]")
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if c > 0x7e || c <= 0x20 || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// parseStatusRange parses "200", "200-299" or 200 (converted to "200").
func parseStatusRange(s string) (StatusRange, string) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return StatusRange{}, "want a status code (\"200\") or a range (\"200-299\")"
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return StatusRange{}, "want a status code (\"200\") or a range (\"200-299\")"
		}
	}
	if a < 100 || a > 599 || b < 100 || b > 599 {
		return StatusRange{}, "HTTP status codes run from 100 to 599"
	}
	if a > b {
		return StatusRange{}, "write a range low to high"
	}
	return StatusRange{a, b}, ""
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) decodeExecCheck(raw *rawExecCheck, block hcl.Range) *ExecCheck {
	e := &ExecCheck{}
	if !d.missing(raw.Command, "command", block) {
		e.Command, _ = d.command(raw.Command)
	}
	if s, ok := d.str(raw.User); ok {
		if s == "" || strings.ContainsAny(s, ": \t/") {
			d.errAttr(raw.User, "Invalid user", "%q is not a user name.", s)
		} else {
			e.User = s
		}
	}
	if m, ok := d.strMap(raw.Env); ok {
		for _, k := range sortedKeys(m) {
			if !envNameRE.MatchString(k) {
				d.errAttr(raw.Env, "Invalid environment variable", "%q is not an environment variable name.", k)
			} else if strings.HasPrefix(k, "LVSD_") {
				d.errAttr(raw.Env, "Reserved environment variable", "%s: lvsd sets the LVSD_ variables itself.", k)
			}
		}
		e.Env = m
	}
	if v, ok := d.boolean(raw.DynamicWeight); ok {
		e.DynamicWeight = v
	}
	return e
}

var dnsLabelRE = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$`)

func (d *decoder) decodeDNSCheck(raw *rawDNSCheck, block hcl.Range) *DNSCheck {
	c := &DNSCheck{Type: "A", Transport: "udp"}
	d.missing(raw.Name, "name", block)
	if s, ok := d.str(raw.Name); d.required(raw.Name, ok) {
		name := strings.TrimSuffix(s, ".")
		valid := name != "" && len(name) <= 253
		for _, l := range strings.Split(name, ".") {
			valid = valid && dnsLabelRE.MatchString(l)
		}
		if s == "." {
			valid, name = true, ""
		}
		if !valid {
			d.errAttr(raw.Name, "Invalid DNS name", "%q is not a domain name.", s)
		}
		c.Name = name + "."
	}
	if s, ok := d.str(raw.Type); ok {
		if i := slices.Index(dnsTypes, strings.ToUpper(s)); i < 0 {
			d.errAttr(raw.Type, "Unknown query type", "type must be one of %s, not %q.", strings.Join(dnsTypes, ", "), s)
		} else {
			c.Type = dnsTypes[i]
		}
	}
	if s, ok := d.str(raw.Transport); ok {
		if v, ok := d.oneOf(raw.Transport, s, "udp", "tcp"); ok {
			c.Transport = v
		}
	}
	if list, ranges, ok := d.strList(raw.Expect); ok {
		if c.Type != "A" && c.Type != "AAAA" {
			d.errAttr(raw.Expect, "expect needs an address query", "expect lists addresses, which only A and AAAA answers hold; this query is type %s.", c.Type)
			return c
		}
		for i, s := range list {
			ip, err := parseAddr(s)
			if err != nil {
				d.errAt(ranges[i], "Invalid address", "%v.", err)
				continue
			}
			if (c.Type == "A") != ip.Is4() {
				d.errAt(ranges[i], "Address of the wrong family", "%s cannot be in the answer to a type %s query.", ip, c.Type)
				continue
			}
			c.Expect = append(c.Expect, ip)
		}
	}
	return c
}

// checkNoneCheck rejects a none check next to other checks.
func (d *decoder) checkNoneCheck(rcs []*rawCheck) {
	if len(rcs) < 2 {
		return
	}
	for _, rc := range rcs {
		if strings.EqualFold(rc.Kind, string(CheckNone)) {
			d.errAt(rc.LabelRange, "none with other checks", "check \"none\" declares the server always up, which contradicts the other checks in this block.")
		}
	}
}

// resolveChecks copies checks for rs with their targets resolved.
func (d *decoder) resolveChecks(st *vsDecode, rs *RealServer, checks []Check) []Check {
	var ports []uint16
	for _, key := range st.vs.Services {
		if p := rs.portFor(key); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	if len(checks) == 1 && checks[0].Kind == CheckNone {
		return []Check{checks[0]}
	}
	out := make([]Check, 0, len(checks))
	for _, c := range checks {
		where := func() hcl.Range {
			if rs.ChecksInherited {
				return rs.DefRange
			}
			return c.DefRange
		}
		inherited := ""
		if rs.ChecksInherited {
			inherited = " (the virtual server's check at " + posString(c.DefRange) + ")"
		}
		addr := rs.Addr
		if c.Address.IsValid() {
			addr = c.Address
		}
		if c.SourceAddress.IsValid() && ipvs.FamilyOf(c.SourceAddress) != ipvs.FamilyOf(addr) {
			d.errAt(where(), "Mixed address families", "The %s check%s has source_address %s, but probes %s.", c.Kind, inherited, c.SourceAddress, addr)
			continue
		}
		port := c.Port
		if port == 0 && c.Kind != CheckICMP {
			switch {
			case len(ports) == 1 && ports[0] != 0:
				port = ports[0]
			case c.Kind.needsPort() && len(ports) > 1:
				d.errAt(where(), "Check needs a port", "Real server %q serves several ports (%s), so its %s check%s must say which one to probe: set port in the check.", rs.Name, portList(ports), c.Kind, inherited)
				continue
			case c.Kind.needsPort():
				d.errAt(where(), "Check needs a port", "Real server %q has no port (its virtual server is a firewall mark or port 0), so its %s check%s must say which port to probe: set port in the check.", rs.Name, c.Kind, inherited)
				continue
			}
		}
		c.Target = netip.AddrPortFrom(addr, port)
		out = append(out, c)
	}
	return out
}

func portList(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ", ")
}
