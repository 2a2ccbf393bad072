package kaconf

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// chkConf is one keepalived checker's settings.
type chkConf struct {
	n           *Node
	defs        checkDefaults
	connectIP   string
	connectPort uint16
	bindTo      string
	bindIf      string
	// kind-specific statements, in order
	urls       []*Node
	hosts      []*Node // SMTP_CHECK host { } (keepalived 1.x)
	host       string  // checker-level virtualhost
	sni        bool
	miscPath   *Node
	miscTime   *int64
	miscDyn    bool
	miscUser   string
	dnsType    string
	dnsName    string
	payload    string
	hasPayload bool
	reply      *Node
	minReply   *Node
	maxReply   *Node
}

func (v *vsConv) checker(n *Node, defs checkDefaults, checkPort uint16, hasPort bool, rsIP netip.Addr) []*hblock {
	c := v.c
	kw := n.Keyword()
	switch kw {
	case "BFD_CHECK":
		c.ignored(n, "lvsd has no BFD; the real server loses this check")
		return nil
	case "FILE_CHECK":
		c.ignored(n, "lvsd has no tracked files; an exec check that reads the file is the closest")
		return nil
	}
	kind := checkerKinds[kw]
	cc := &chkConf{n: n, defs: defs}
	if n.HasBlock {
		for _, s := range n.Block {
			c.checkerSetting(cc, s, kw)
		}
	}

	retry := int64(1)
	dbr := time.Second
	switch kw {
	case "HTTP_GET", "SSL_GET":
		dbr = 3 * time.Second
	case "DNS_CHECK":
		retry, dbr = 3, cc.defs.delayLoop
	case "MISC_CHECK":
		retry = 0
	}
	if cc.defs.retry != nil {
		retry = *cc.defs.retry
	}
	if cc.defs.dbr != nil {
		dbr = *cc.defs.dbr
		if dbr == 0 && kw == "DNS_CHECK" {
			dbr = cc.defs.delayLoop
		}
	}
	interval := cc.defs.delayLoop
	timeout := cc.defs.connTimeout
	if kw == "MISC_CHECK" {
		timeout = cc.defs.vsDelayLoop
		if cc.miscTime != nil && *cc.miscTime > 0 {
			timeout = time.Duration(*cc.miscTime) * time.Second
		}
	}

	// base returns a new check block with the settings every kind shares.
	base := func(comment string) *hblock {
		b := newBlock("check", kind)
		b.comments = []string{from(n.Pos) + " (" + kw + comment + ")"}
		return b
	}
	finish := func(b *hblock, port uint16, cc *chkConf) *hblock {
		if kind != "exec" {
			if cc.connectIP != "" {
				if a, err := netip.ParseAddr(cc.connectIP); err != nil || a.Zone() != "" {
					c.warn(n.Pos, "connect_ip %s: not an IP address; ignored", cc.connectIP)
				} else if a.Unmap() != rsIP {
					b.setString("address", a.Unmap().String())
				}
			}
			if kind != "icmp" && port != 0 {
				b.setInt("port", int64(port))
			}
			if cc.bindTo != "" {
				if a, err := netip.ParseAddr(cc.bindTo); err != nil || a.Zone() != "" {
					c.warn(n.Pos, "bindto %s: not an IP address; ignored", cc.bindTo)
				} else {
					b.setString("source_address", a.Unmap().String())
				}
			}
			if cc.bindIf != "" {
				b.setString("source_interface", cc.bindIf)
			}
		}
		b.setDuration("interval", interval)
		b.setDuration("timeout", timeout)
		b.setInt("rise", 1).note("keepalived: up after one success")
		b.setInt("fall", retry+1).note(fmt.Sprintf("keepalived: retry %d", retry))
		if retry > 0 && dbr != interval {
			b.setDuration("retry_interval", dbr).note("keepalived: delay_before_retry")
		}
		if cc.defs.warmup != nil {
			b.setDuration("warmup", *cc.defs.warmup)
		}
		if cc.defs.alpha {
			b.setBool("start_down", true).note("keepalived: alpha")
		}
		return b
	}

	// The port to probe.
	port := cc.connectPort
	if port == 0 {
		port = checkPort
	}
	if port == 0 && !hasPort {
		switch kind {
		case "icmp", "exec":
		default:
			if kw == "SMTP_CHECK" {
				port = 25
				break
			}
			c.warn(n.Pos, "%s on a real server without a port of its own (a firewall-mark service, or several virtual ports): keepalived probes port 0, which never answers; lvsd needs connect_port, so this check is left out — add one", kw)
			return nil
		}
	}
	if kind == "icmp" && cc.connectPort != 0 {
		c.note(n.Pos, "connect_port on PING_CHECK has no effect; ignored")
	}

	switch kw {
	case "TCP_CHECK", "PING_CHECK":
		return []*hblock{finish(base(""), port, cc)}
	case "SMTP_CHECK":
		v.warnOnce(n.Pos, "smtp", "SMTP_CHECK: lvsd has no SMTP check; imported as a tcp check that expects the \"220\" greeting (HELO and its 250 reply are not checked)")
		hosts := cc.hosts
		if len(hosts) == 0 {
			hosts = []*Node{nil}
		}
		var out []*hblock
		for i, h := range hosts {
			hc := *cc
			if h != nil {
				for _, s := range h.Block {
					c.checkerSetting(&hc, s, "SMTP_CHECK host")
				}
			}
			p := hc.connectPort
			if p == 0 {
				p = port
			}
			comment := ""
			if len(hosts) > 1 {
				comment = fmt.Sprintf(", host %d of %d", i+1, len(hosts))
			}
			b := base(comment)
			b.setString("expect", "^220")
			out = append(out, finish(b, p, &hc))
		}
		return out
	case "MISC_CHECK":
		if cc.miscPath == nil {
			c.warn(n.Pos, "MISC_CHECK without misc_path; ignored (keepalived ignores it too)")
			return nil
		}
		sc, ok := c.command(cc.miscPath)
		if !ok {
			return nil
		}
		b := base("")
		b.setStrings("command", sc.argv)
		if cc.miscUser != "" {
			b.setString("user", cc.miscUser)
		}
		if cc.miscDyn {
			b.setBool("dynamic_weight", true)
		}
		return []*hblock{finish(b, 0, cc)}
	case "DNS_CHECK":
		b := base("")
		t := strings.ToUpper(cc.dnsType)
		if t == "" {
			t = "SOA"
		}
		name := cc.dnsName
		if name == "" {
			name = "."
		}
		b.setString("name", name)
		b.setString("type", t)
		return []*hblock{finish(b, port, cc)}
	case "UDP_CHECK":
		return []*hblock{finish(c.udpCheck(cc, base("")), port, cc)}
	case "HTTP_GET", "SSL_GET":
		if len(cc.urls) == 0 {
			c.warn(n.Pos, "%s without url: keepalived has nothing to fetch and drops the checker; so does the import", kw)
			return nil
		}
		if cc.host == "" {
			cc.host = cc.defs.host
		}
		var out []*hblock
		for i, u := range cc.urls {
			comment := ""
			if len(cc.urls) > 1 {
				comment = fmt.Sprintf(", url %d of %d", i+1, len(cc.urls))
			}
			b := base(comment)
			if !c.urlCheck(cc, u, b, kind) {
				continue
			}
			out = append(out, finish(b, port, cc))
		}
		if len(cc.urls) > 1 {
			c.note(n.Pos, "%s with %d urls: one lvsd check per url; the real server is up while all pass, as in keepalived", kw, len(cc.urls))
		}
		return out
	}
	return nil
}

// checkerSetting reads one statement of a checker block.
func (c *conv) checkerSetting(cc *chkConf, s *Node, kw string) {
	misc := kw == "MISC_CHECK"
	switch k := s.Keyword(); k {
	case "connect_ip":
		if !misc {
			cc.connectIP = s.Arg(0)
			return
		}
	case "connect_port":
		if !misc {
			if p, ok := c.uintArg(s, 0, 1, 65535); ok {
				cc.connectPort = uint16(p)
			}
			return
		}
	case "bindto":
		if !misc {
			cc.bindTo = s.Arg(0)
			return
		}
	case "bind_if":
		if !misc {
			cc.bindIf = s.Arg(0)
			return
		}
	case "bind_port":
		if !misc {
			c.ignored(s, "lvsd's probes use any source port")
			return
		}
	case "fwmark":
		if !misc {
			c.ignored(s, "lvsd does not mark its probes")
			return
		}
	case "delay_loop", "connect_timeout", "retry", "delay_before_retry", "warmup":
		if k != "connect_timeout" || !misc {
			c.timingSetting(s, &cc.defs)
			return
		}
	case "nb_get_retry":
		if kw == "HTTP_GET" || kw == "SSL_GET" {
			c.timingSetting(s, &cc.defs)
			return
		}
	case "alpha":
		if b, ok := c.boolArg(s, 0); ok {
			cc.defs.alpha = b
		}
		return
	case "log_all_failures":
		c.note(s.Pos, "log_all_failures: lvsd counts every check result in its metrics and logs state changes")
		return
	}
	switch kw {
	case "HTTP_GET", "SSL_GET":
		switch s.Keyword() {
		case "url":
			if s.HasBlock {
				cc.urls = append(cc.urls, s)
			} else {
				c.warn(s.Pos, "url needs a { } block; ignored")
			}
			return
		case "virtualhost":
			cc.host = s.Arg(0)
			return
		case "http_protocol":
			c.note(s.Pos, "http_protocol %s: lvsd speaks HTTP/1.1 on a fresh connection per check (keepalive = false)", s.Arg(0))
			return
		case "fast_recovery":
			c.note(s.Pos, "fast_recovery: each url is its own lvsd check, so all are probed every interval")
			return
		case "enable_sni":
			if kw == "SSL_GET" {
				cc.sni = true
				return
			}
		}
	case "SMTP_CHECK", "SMTP_CHECK host":
		switch s.Keyword() {
		case "helo_name":
			return
		case "host":
			if kw == "SMTP_CHECK" && s.HasBlock {
				cc.hosts = append(cc.hosts, s)
				return
			}
		}
	case "MISC_CHECK":
		switch s.Keyword() {
		case "misc_path":
			cc.miscPath = s
			return
		case "misc_timeout":
			if t, ok := c.uintArg(s, 0, 0, 3600); ok {
				cc.miscTime = &t
			}
			return
		case "misc_dynamic":
			cc.miscDyn = true
			return
		case "user":
			cc.miscUser = s.Arg(0)
			if s.Arg(1) != "" {
				c.warn(s.Pos, "user %s %s: lvsd runs the command with the user's own group; the group is ignored", s.Arg(0), s.Arg(1))
			}
			return
		}
	case "DNS_CHECK":
		switch s.Keyword() {
		case "type":
			t := strings.ToUpper(s.Arg(0))
			switch t {
			case "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA":
				cc.dnsType = t
			default:
				c.warn(s.Pos, "DNS_CHECK type %s: not A, NS, CNAME, SOA, MX, TXT or AAAA; ignored (SOA)", s.Arg(0))
			}
			return
		case "name":
			cc.dnsName = s.Arg(0)
			return
		}
	case "UDP_CHECK":
		switch s.Keyword() {
		case "payload":
			cc.payload, cc.hasPayload = strings.Join(s.Args(), " "), true
			return
		case "require_reply":
			cc.reply = s
			return
		case "min_reply_length":
			cc.minReply = s
			return
		case "max_reply_length":
			cc.maxReply = s
			return
		}
	}
	c.unknown(s, kw)
}

// urlCheck fills an http/https check from a url { } block.
func (c *conv) urlCheck(cc *chkConf, u *Node, b *hblock, kind string) bool {
	path, host, digest := "/", cc.host, ""
	var status []string
	var regex string
	var regexPos Pos
	var flags []string
	for _, s := range u.Block {
		switch s.Keyword() {
		case "path":
			path = s.Arg(0)
		case "digest":
			digest = strings.ToLower(s.Arg(0))
			if b, err := hex.DecodeString(digest); err != nil || len(b) != 16 {
				c.warn(s.Pos, "digest %s: not an MD5 digest (32 hexadecimal digits); ignored", s.Arg(0))
				digest = ""
			}
		case "status_code":
			for _, a := range s.Args() {
				if !statusRE.MatchString(a) {
					c.warn(s.Pos, "status_code %s: not a code or range of codes; ignored", a)
					continue
				}
				status = append(status, a)
			}
		case "virtualhost":
			host = s.Arg(0)
		case "regex":
			regex, regexPos = s.Arg(0), s.Pos
		case "regex_no_match":
			c.warn(s.Pos, "regex_no_match: lvsd's body_regex must match; a check that fails on a match cannot be expressed, so the regex is left out of this check")
			regex = "\x00no-match"
		case "regex_options":
			for _, o := range s.Args() {
				switch o {
				case "caseless":
					flags = append(flags, "i")
				case "multiline":
					flags = append(flags, "m")
				case "dotall":
					flags = append(flags, "s")
				case "ungreedy":
					flags = append(flags, "U")
				default:
					c.warn(s.Pos, "regex_options %s: no RE2 equivalent; ignored", o)
				}
			}
		case "regex_stack", "regex_min_offset", "regex_max_offset":
			c.ignored(s, "lvsd matches the regex against the whole body (up to max_body_bytes)")
		default:
			c.unknown(s, "url")
		}
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t") {
		c.warn(u.Pos, "url path %q: lvsd needs a path starting with /; this url is left out", path)
		return false
	}
	b.setString("path", path)
	if host != "" {
		if strings.ContainsAny(host, " /\t") {
			c.warn(u.Pos, "virtualhost %q: not a host name; ignored", host)
		} else {
			b.setString("host", host)
		}
	}
	if len(status) > 0 {
		b.setStrings("status", status)
	}
	if digest != "" {
		b.setString("body_md5", digest)
	}
	if regex == "\x00no-match" {
		regex = ""
	}
	if regex != "" {
		if len(flags) > 0 {
			regex = "(?" + strings.Join(flags, "") + ")" + regex
		}
		if _, err := regexp.Compile(regex); err != nil {
			c.warn(regexPos, "regex %q: not valid in Go's RE2 syntax (keepalived uses PCRE): %v; left out — rewrite it", regex, err)
		} else {
			b.setString("body_regex", regex)
		}
	}
	if kind == "https" {
		if cc.sni && host != "" {
			b.setString("tls_server_name", hostOnly(host))
		} else if host != "" && !cc.sni {
			c.note(u.Pos, "SSL_GET without enable_sni: keepalived sends no SNI; lvsd sends the host name (%s) as SNI", hostOnly(host))
		}
		if c.ssl.certFile != "" {
			b.setString("tls_cert_file", c.ssl.certFile)
			b.setString("tls_key_file", c.ssl.keyFile)
		}
	}
	return true
}

var statusRE = regexp.MustCompile(`^[1-5][0-9][0-9](-[1-5][0-9][0-9])?$`)

func hostOnly(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], ":") {
		return s[:i]
	}
	return s
}

// udpCheck fills a udp check from UDP_CHECK's payload and require_reply.
func (c *conv) udpCheck(cc *chkConf, b *hblock) *hblock {
	n := cc.n
	if cc.hasPayload {
		data, _, err := parseHexBytes(cc.payload, false)
		if err != nil {
			c.warn(n.Pos, "UDP_CHECK payload: %v; ignored", err)
		} else if len(data) > 0 {
			b.setString("send_hex", spacedHex(data))
		}
	} else {
		c.note(n.Pos, "UDP_CHECK without payload: keepalived sends random bytes, lvsd an empty datagram")
	}
	if cc.reply != nil {
		hexs := strings.Join(cc.reply.Args(), " ")
		if hexs == "" {
			b.setString("expect", "(?s).*").note("keepalived: require_reply (any reply)")
		} else if data, mask, err := parseHexBytes(hexs, true); err != nil {
			c.warn(cc.reply.Pos, "require_reply: %v; ignored", err)
		} else {
			re, exact := replyRegexp(data, mask)
			if !exact {
				c.warn(cc.reply.Pos, "require_reply %s: bytes with a wildcard nibble or above 0x7f are matched as any character (lvsd's expect is a regular expression on the reply)", hexs)
			}
			c.note(cc.reply.Pos, "require_reply: lvsd's reply must start with all the bytes; keepalived also accepts a shorter reply that matches as far as it goes")
			b.setString("expect", re).note("keepalived: require_reply " + hexs)
		}
	}
	if cc.minReply != nil || cc.maxReply != nil {
		s := cc.minReply
		if s == nil {
			s = cc.maxReply
		}
		c.ignored(s, "lvsd does not bound the reply's length")
	}
	return b
}

func spacedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, " ")
}

// replyRegexp turns require_reply bytes into an anchored regular
// expression; exact is false when some bytes could only be approximated.
func replyRegexp(data, mask []byte) (string, bool) {
	var sb strings.Builder
	sb.WriteString("^")
	exact := true
	for i, d := range data {
		m := mask[i]
		switch {
		case m == 0xff && d >= 0x20 && d < 0x7f:
			sb.WriteString(regexp.QuoteMeta(string(rune(d))))
		case m == 0xff && d < 0x80:
			sb.WriteString(`\x` + strconv.FormatUint(uint64(d)|0x100, 16)[1:])
		case m == 0xf0 && d < 0x80:
			lo := d & 0xf0
			sb.WriteString(`[\x` + strconv.FormatUint(uint64(lo)|0x100, 16)[1:] + `-\x` + strconv.FormatUint(uint64(lo|0x0f)|0x100, 16)[1:] + `]`)
		default:
			sb.WriteString(`(?s:.)`)
			exact = false
		}
	}
	return sb.String(), exact
}
