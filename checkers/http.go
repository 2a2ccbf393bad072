package checkers

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// HTTPSpec is a layer-7 check: an HTTP(S) request whose response must have
// an expected status and, optionally, a body matching a regular expression
// or a digest. (keepalived: HTTP_GET and SSL_GET.)
type HTTPSpec struct {
	// TLS makes it an https check.
	TLS bool `json:",omitempty"`
	// Method is GET (default) or HEAD.
	Method string
	// Path is the request path with any query. Default "/".
	Path string
	// Host is the Host header. Default: the target address and port.
	// (keepalived: virtualhost.)
	Host string `json:",omitempty"`
	// Header adds request headers.
	Header map[string]string `json:",omitempty"`
	// Status is the set of acceptable status codes. Default 200-299.
	// (keepalived: status_code.)
	Status StatusCodes
	// BodyRegex must match the body (RE2 syntax); with BodyRegexInvert
	// it must not. (keepalived: regex, regex_no_match.)
	BodyRegex       string `json:",omitempty"`
	BodyRegexInvert bool   `json:",omitempty"`
	// Digest pins the body: "md5:<hex>", "sha256:<hex>", or bare hex (32
	// digits: MD5, as keepalived's genhash prints; 64: SHA-256).
	// (keepalived: digest.)
	Digest string `json:",omitempty"`
	// MaxBody caps the bytes of body read (and digested). Default 1 MiB.
	MaxBody int64
	// KeepAlive reuses one connection between checks. Default: a fresh
	// connection for every check, as keepalived does.
	KeepAlive bool `json:",omitempty"`

	// SNI is the TLS server name. Default: Host without its port, unless
	// that is an IP address. (keepalived: enable_sni, which sends the
	// virtualhost.)
	SNI string `json:",omitempty"`
	// Insecure skips verification of the server's certificate (keepalived
	// never verifies it). Default: verify against CAFile, or the system
	// roots when CAFile is empty, for the name SNI.
	Insecure bool   `json:",omitempty"`
	CAFile   string `json:",omitempty"`
	// CertFile and KeyFile are a client certificate (PEM) presented when
	// the server asks for one. They are re-read when they change on disk.
	CertFile string `json:",omitempty"`
	KeyFile  string `json:",omitempty"`
}

const defaultMaxBody = 1 << 20

func (s HTTPSpec) Kind() Kind {
	if s.TLS {
		return KindHTTPS
	}
	return KindHTTP
}

func (s HTTPSpec) normalized() Spec {
	s.Method = strings.ToUpper(s.Method)
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.Path == "" {
		s.Path = "/"
	}
	if len(s.Status) == 0 {
		s.Status = DefaultStatus
	}
	if s.MaxBody == 0 {
		s.MaxBody = defaultMaxBody
	}
	if alg, sum, err := parseDigest(s.Digest); err == nil && sum != "" {
		s.Digest = alg + ":" + sum
	}
	if len(s.Header) == 0 {
		s.Header = nil
	}
	return s
}

func (s HTTPSpec) Validate() error {
	n := s.normalized().(HTTPSpec)
	if n.Method != http.MethodGet && n.Method != http.MethodHead {
		return fmt.Errorf("method %q: want GET or HEAD", s.Method)
	}
	if !strings.HasPrefix(n.Path, "/") {
		return fmt.Errorf("path %q does not start with /", n.Path)
	}
	if _, err := url.ParseRequestURI(n.Path); err != nil {
		return fmt.Errorf("path %q: %w", n.Path, err)
	}
	if err := n.Status.Validate(); err != nil {
		return err
	}
	if n.MaxBody < 0 || n.MaxBody > 1<<30 {
		return fmt.Errorf("max body %d is not in 0..%d", n.MaxBody, 1<<30)
	}
	if n.Method == http.MethodHead && (n.BodyRegex != "" || n.Digest != "") {
		return errors.New("a HEAD request has no body to match a regex or digest against")
	}
	if n.BodyRegex != "" {
		if _, err := regexp.Compile(n.BodyRegex); err != nil {
			return fmt.Errorf("body regex: %w", err)
		}
	}
	if _, _, err := parseDigest(n.Digest); err != nil {
		return err
	}
	for k, v := range n.Header {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("header %q: invalid name or value", k)
		}
	}
	if strings.ContainsAny(n.Host, " /\r\n") {
		return fmt.Errorf("host %q is not a valid Host header", n.Host)
	}
	if !n.TLS && (n.SNI != "" || n.Insecure || n.CAFile != "" || n.CertFile != "" || n.KeyFile != "") {
		return errors.New("TLS settings (sni, insecure, ca, certificate) on a plain http check")
	}
	if (n.CertFile == "") != (n.KeyFile == "") {
		return errors.New("a client certificate needs both a certificate file and a key file")
	}
	return nil
}

// parseDigest splits "md5:hex", "sha256:hex" or bare hex into algorithm
// and lower-case hex. Empty input gives empty output.
func parseDigest(s string) (alg, sum string, err error) {
	if s == "" {
		return "", "", nil
	}
	alg, sum, ok := strings.Cut(s, ":")
	if !ok {
		sum = s
		switch len(s) {
		case 32:
			alg = "md5"
		case 64:
			alg = "sha256"
		default:
			return "", "", fmt.Errorf("digest %q: want md5:<32 hex digits> or sha256:<64 hex digits>", s)
		}
	}
	alg = strings.ToLower(alg)
	sum = strings.ToLower(sum)
	want := map[string]int{"md5": 32, "sha256": 64}[alg]
	if want == 0 {
		return "", "", fmt.Errorf("digest %q: algorithm %q is not md5 or sha256", s, alg)
	}
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != want {
		return "", "", fmt.Errorf("digest %q: want %d hex digits for %s", s, want, alg)
	}
	return alg, sum, nil
}

func (s HTTPSpec) build(t netip.AddrPort, set Settings, _ *Env) (Check, error) {
	c := &httpCheck{spec: s, timeout: set.Timeout, target: t.String(), dialer: newDialer("tcp", set)}
	scheme := "http"
	if s.TLS {
		scheme = "https"
	}
	u, err := url.Parse(scheme + "://" + c.target + s.Path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s.Path, err)
	}
	c.url = u
	if s.BodyRegex != "" {
		if c.regex, err = regexp.Compile(s.BodyRegex); err != nil {
			return nil, fmt.Errorf("body regex: %w", err)
		}
	}
	c.digestAlg, c.digest, _ = parseDigest(s.Digest)
	header := make(http.Header, len(s.Header)+1)
	header.Set("User-Agent", "lvsd-check")
	for k, v := range s.Header {
		header.Set(k, v)
	}
	// Every run sends the same bytes: render them once.
	c.req = &http.Request{
		Method:     s.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Host:       s.Host,
		Close:      !s.KeepAlive,
	}
	var buf bytes.Buffer
	if err := c.req.Write(&buf); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	c.wire = buf.Bytes()
	if !s.TLS {
		return c, nil
	}
	tc := &tls.Config{InsecureSkipVerify: s.Insecure, ServerName: s.SNI}
	if tc.ServerName == "" {
		host := s.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if _, err := netip.ParseAddr(host); err != nil {
			tc.ServerName = host
		}
	}
	if tc.ServerName == "" {
		// No name to send: verify the certificate for the IP we connect to.
		tc.ServerName = t.Addr().String()
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" {
		kp := &keyPair{cert: s.CertFile, key: s.KeyFile}
		if _, err := kp.get(); err != nil {
			return nil, err
		}
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return kp.get()
		}
	}
	c.tls = tc
	return c, nil
}

// keyPair loads a client certificate and reloads it when either file's
// modification time changes, so rotated certificates are picked up
// without a reload.
type keyPair struct {
	cert, key string

	mu       sync.Mutex
	loaded   *tls.Certificate
	certTime time.Time
	keyTime  time.Time
}

func (k *keyPair) get() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ci, err := os.Stat(k.cert)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	ki, err := os.Stat(k.key)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	if k.loaded != nil && ci.ModTime().Equal(k.certTime) && ki.ModTime().Equal(k.keyTime) {
		return k.loaded, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return nil, fmt.Errorf("client certificate %s: %w", k.cert, err)
	}
	k.loaded, k.certTime, k.keyTime = &c, ci.ModTime(), ki.ModTime()
	return k.loaded, nil
}

// httpCheck speaks HTTP/1.1 itself, with net/http only writing the request
// and parsing the response: every socket operation happens in the
// goroutine that calls Check (so a check run from a thread inside a
// network namespace stays in it), and no transport goroutines live
// between checks.
type httpCheck struct {
	spec      HTTPSpec
	timeout   time.Duration
	target    string
	dialer    *net.Dialer
	tls       *tls.Config
	url       *url.URL
	req       *http.Request // for parsing the response
	wire      []byte        // the request as sent
	regex     *regexp.Regexp
	digestAlg string
	digest    string

	mu   sync.Mutex
	idle *httpConn // kept between checks with KeepAlive
}

type httpConn struct {
	net.Conn
	br *bufio.Reader
}

// phase names what a failed request was doing.
type phase int

const (
	phConnect phase = iota
	phTLS
	phSend
	phHeaders
	phBody
)

var phaseNames = [...]string{"connect", "tls handshake", "send request", "response headers", "body"}

// httpError is a failure in a phase.
type httpError struct {
	ph  phase
	err error
}

func (c *httpCheck) Check(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()
	fail := func(format string, args ...any) Result {
		return Result{Reason: fmt.Sprintf(format, args...), Latency: time.Since(start)}
	}

	conn, reused := c.takeIdle()
	var resp *http.Response
	var stop func() bool
	for {
		var herr *httpError
		if conn == nil {
			conn, herr = c.connect(ctx)
			if herr != nil {
				return fail("%s", c.errReason(ctx, herr))
			}
		}
		stop = interruptOnDone(ctx, conn)
		resp, herr = c.exchange(conn)
		if herr == nil {
			break
		}
		stop()
		conn.Close()
		conn = nil
		// A kept-alive connection the server closed meanwhile: once more
		// on a fresh one, as net/http's transport does.
		if reused && ctx.Err() == nil && herr.ph <= phHeaders {
			reused = false
			continue
		}
		return fail("%s", c.errReason(ctx, herr))
	}
	defer stop()
	keep := false
	defer func() {
		if keep {
			c.putIdle(conn)
		} else {
			conn.Close()
		}
	}()

	if !c.spec.Status.Contains(resp.StatusCode) {
		return fail("status %d not in %s", resp.StatusCode, c.spec.Status)
	}
	if c.spec.Method == http.MethodHead {
		keep = c.spec.KeepAlive && !resp.Close
		return Result{OK: true, Reason: fmt.Sprintf("status %d", resp.StatusCode), Latency: time.Since(start)}
	}

	// The body is read (up to MaxBody) even with nothing to match, so a
	// server that dies mid-response fails the check.
	var h hash.Hash
	switch c.digestAlg {
	case "md5":
		h = md5.New()
	case "sha256":
		h = sha256.New()
	}
	var body []byte
	var err error
	r := io.LimitReader(resp.Body, c.spec.MaxBody)
	switch {
	case c.regex != nil:
		body, err = io.ReadAll(r)
		if h != nil {
			h.Write(body)
		}
	case h != nil:
		_, err = io.Copy(h, r)
	default:
		_, err = io.Copy(io.Discard, r)
	}
	if err != nil {
		return fail("read body: %s", errText(ctx, err, c.timeout))
	}
	if c.spec.KeepAlive && !resp.Close {
		// Reusable only if the whole body was read.
		n, err := resp.Body.Read(make([]byte, 1))
		keep = n == 0 && err == io.EOF
	}
	if c.regex != nil && c.regex.Match(body) == c.spec.BodyRegexInvert {
		if c.spec.BodyRegexInvert {
			return fail("body matches %q", c.spec.BodyRegex)
		}
		return fail("body does not match %q", c.spec.BodyRegex)
	}
	if h != nil {
		if got := hex.EncodeToString(h.Sum(nil)); got != c.digest {
			return fail("body %s %s, want %s", c.digestAlg, got, c.digest)
		}
	}
	if c.regex == nil && h == nil {
		return Result{OK: true, Reason: fmt.Sprintf("status %d", resp.StatusCode), Latency: time.Since(start)}
	}
	return Result{OK: true, Reason: fmt.Sprintf("status %d, body ok", resp.StatusCode), Latency: time.Since(start)}
}

// connect dials the target and does the TLS handshake.
func (c *httpCheck) connect(ctx context.Context) (*httpConn, *httpError) {
	raw, err := c.dialer.DialContext(ctx, "tcp", c.target)
	if err != nil {
		return nil, &httpError{phConnect, err}
	}
	conn := raw
	if c.tls != nil {
		tc := tls.Client(raw, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, &httpError{phTLS, err}
		}
		conn = tc
	}
	return &httpConn{Conn: conn}, nil
}

// exchange writes the request and reads the response head.
func (c *httpCheck) exchange(conn *httpConn) (*http.Response, *httpError) {
	if _, err := conn.Write(c.wire); err != nil {
		return nil, &httpError{phSend, err}
	}
	if conn.br == nil {
		conn.br = readers.Get().(*bufio.Reader)
		conn.br.Reset(conn)
	}
	resp, err := http.ReadResponse(conn.br, c.req)
	if err != nil {
		return nil, &httpError{phHeaders, err}
	}
	return resp, nil
}

// readers recycles response readers: a health check reads little, and
// thousands of checks a second would otherwise each allocate one.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 2048) }}

// Close closes the connection and recycles its reader.
func (h *httpConn) Close() error {
	err := h.Conn.Close()
	if h.br != nil {
		h.br.Reset(nil)
		readers.Put(h.br)
		h.br = nil
	}
	return err
}

func (c *httpCheck) takeIdle() (*httpConn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn := c.idle
	c.idle = nil
	return conn, conn != nil
}

func (c *httpCheck) putIdle(conn *httpConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle != nil {
		c.idle.Close()
	}
	c.idle = conn
}

// close drops a kept-alive connection (the check was removed).
func (c *httpCheck) close() {
	if conn, ok := c.takeIdle(); ok {
		conn.Close()
	}
}

// errReason makes a short reason from a failed phase.
func (c *httpCheck) errReason(ctx context.Context, e *httpError) string {
	if isTimeout(ctx, e.err) && ctx.Err() != context.Canceled {
		return fmt.Sprintf("%s: timeout after %s", phaseNames[e.ph], fmtDuration(c.timeout))
	}
	var cve *tls.CertificateVerificationError
	if errors.As(e.err, &cve) {
		return "tls: " + cve.Err.Error()
	}
	if e.ph == phHeaders && errors.Is(e.err, io.EOF) {
		return "response headers: connection closed without a response"
	}
	if e.ph == phTLS {
		var alert tls.AlertError
		if errors.As(e.err, &alert) {
			return "tls handshake: " + alert.Error()
		}
	}
	return phaseNames[e.ph] + ": " + errText(ctx, e.err, c.timeout)
}
