package checkers

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// webServer is a real net/http server on loopback, counting connections.
type webServer struct {
	srv   *http.Server
	ln    net.Listener
	conns atomic.Int64
	done  chan struct{}
}

func startWeb(t testing.TB, h http.Handler, tlsConf *tls.Config) *webServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webServer{ln: ln, done: make(chan struct{})}
	w.srv = &http.Server{
		Handler:   h,
		TLSConfig: tlsConf,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				w.conns.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(w.done)
		if tlsConf != nil {
			w.srv.ServeTLS(ln, "", "")
		} else {
			w.srv.Serve(ln)
		}
	}()
	t.Cleanup(func() { w.srv.Close(); <-w.done })
	return w
}

func (w *webServer) Addr() netip.AddrPort { return netip.MustParseAddrPort(w.ln.Addr().String()) }

func httpDef(a netip.AddrPort, timeout time.Duration, spec HTTPSpec) Definition {
	return Definition{Target: a, Settings: Settings{Timeout: timeout}, Spec: spec}
}

const page = "<html><body>lvsd health: all good</body></html>\n"

func TestHTTPCheck(t *testing.T) {
	var seenHost, seenHeader, seenMethod sync.Map
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		seenHost.Store(r.URL.Query().Get("id"), r.Host)
		seenHeader.Store(r.URL.Query().Get("id"), r.Header.Get("X-Check"))
		seenMethod.Store(r.URL.Query().Get("id"), r.Method)
		w.Write([]byte(page))
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
		}
		w.Write([]byte(page))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 10000) + "MARKER"))
	})
	web := startWeb(t, mux, nil)
	a := web.Addr()
	silent := startTCP(t, "127.0.0.1:0", hold)
	reset := startTCP(t, "127.0.0.1:0", resetMidResponse)
	refused := freePort(t)

	md5sum := md5.Sum([]byte(page))
	shasum := sha256.Sum256([]byte(page))
	md5hex := hex.EncodeToString(md5sum[:])
	shahex := hex.EncodeToString(shasum[:])

	tests := []struct {
		name   string
		def    Definition
		ok     bool
		reason string
	}{
		{"200", httpDef(a, time.Second, HTTPSpec{Path: "/ok"}), true, "status 200"},
		{"503", httpDef(a, time.Second, HTTPSpec{Path: "/503"}), false, "status 503 not in 200-299"},
		{"404 accepted by a range", httpDef(a, time.Second, HTTPSpec{Path: "/404", Status: StatusCodes{{200, 299}, {404, 404}}}), true, "status 404"},
		{"redirect is not followed", httpDef(a, time.Second, HTTPSpec{Path: "/redirect"}), false, "status 302 not in 200-299"},
		{"regex matches", httpDef(a, time.Second, HTTPSpec{Path: "/ok", BodyRegex: "health: all good"}), true, "status 200, body ok"},
		{"regex fails", httpDef(a, time.Second, HTTPSpec{Path: "/ok", BodyRegex: "health: degraded"}), false, `body does not match "health: degraded"`},
		{"inverted regex fails on a match", httpDef(a, time.Second, HTTPSpec{Path: "/ok", BodyRegex: "all good", BodyRegexInvert: true}), false, `body matches "all good"`},
		{"md5 digest as genhash prints it", httpDef(a, time.Second, HTTPSpec{Path: "/ok", Digest: md5hex}), true, "status 200, body ok"},
		{"sha256 digest", httpDef(a, time.Second, HTTPSpec{Path: "/ok", Digest: "sha256:" + shahex}), true, "status 200, body ok"},
		{"wrong digest", httpDef(a, time.Second, HTTPSpec{Path: "/ok", Digest: strings.Repeat("0", 32)}), false, "body md5 " + md5hex + ", want " + strings.Repeat("0", 32)},
		{"regex past the body cap", httpDef(a, time.Second, HTTPSpec{Path: "/big", BodyRegex: "MARKER", MaxBody: 1024}), false, `body does not match "MARKER"`},
		{"regex within the body cap", httpDef(a, time.Second, HTTPSpec{Path: "/big", BodyRegex: "MARKER"}), true, "status 200, body ok"},
		{"slow within timeout", httpDef(a, 2*time.Second, HTTPSpec{Path: "/slow"}), true, "status 200"},
		{"slow past timeout", httpDef(a, 100*time.Millisecond, HTTPSpec{Path: "/slow"}), false, "response headers: timeout after 100ms"},
		{"accepts and never answers", httpDef(silent.Addr(), 200*time.Millisecond, HTTPSpec{}), false, "response headers: timeout after 200ms"},
		{"resets mid-response", httpDef(reset.Addr(), time.Second, HTTPSpec{}), false, "read body: connection reset by peer"},
		{"refused", httpDef(refused, time.Second, HTTPSpec{}), false, "connect: connection refused"},
		{"HEAD", httpDef(a, time.Second, HTTPSpec{Method: "HEAD", Path: "/ok?id=head"}), true, "status 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCheck(t, tt.def, nil)
			if r.OK != tt.ok || r.Reason != tt.reason {
				t.Fatalf("result %+v, want ok=%v reason %q", r, tt.ok, tt.reason)
			}
		})
	}
	if m, _ := seenMethod.Load("head"); m != "HEAD" {
		t.Errorf("HEAD check sent %v", m)
	}

	// Host header and extra headers reach the server; the default Host is
	// the target.
	mustCheck(t, httpDef(a, time.Second, HTTPSpec{Path: "/ok?id=vhost", Host: "www.example.test", Header: map[string]string{"X-Check": "lvsd"}}), nil)
	mustCheck(t, httpDef(a, time.Second, HTTPSpec{Path: "/ok?id=plain"}), nil)
	if h, _ := seenHost.Load("vhost"); h != "www.example.test" {
		t.Errorf("Host header %v, want www.example.test", h)
	}
	if h, _ := seenHeader.Load("vhost"); h != "lvsd" {
		t.Errorf("X-Check header %v, want lvsd", h)
	}
	if h, _ := seenHost.Load("plain"); h != a.String() {
		t.Errorf("default Host header %v, want %s", h, a)
	}
}

// A fresh connection per check, unless KeepAlive is set.
func TestHTTPCheckKeepAlive(t *testing.T) {
	for _, keep := range []bool{false, true} {
		web := startWeb(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(page)) }), nil)
		c, err := Build(httpDef(web.Addr(), time.Second, HTTPSpec{KeepAlive: keep}), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if r := c.Check(t.Context()); !r.OK {
				t.Fatalf("keepalive=%v check %d: %v", keep, i, r)
			}
		}
		want := int64(3)
		if keep {
			want = 1
		}
		if got := web.conns.Load(); got != want {
			t.Errorf("keepalive=%v: %d connections for 3 checks, want %d", keep, got, want)
		}
		c.(closer).close()
	}
}

func TestHTTPSCheck(t *testing.T) {
	dir := t.TempDir()
	serverCert, caFile, _ := selfSigned(t, dir, "server", "www.example.test", "127.0.0.1")
	clientCert, clientCertFile, clientKeyFile := selfSigned(t, dir, "client", "lvsd-checker")
	_ = clientCert
	clientPool := x509.NewCertPool()
	clientPool.AddCert(mustParse(t, clientCert))

	var sni sync.Map
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni.Store(r.URL.Query().Get("id"), r.TLS.ServerName)
		w.Write([]byte(page))
	})
	plain := startWeb(t, handler, &tls.Config{Certificates: []tls.Certificate{serverCert}})
	mtls := startWeb(t, handler, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
	})

	tests := []struct {
		name   string
		def    Definition
		ok     bool
		reason string
	}{
		{"self-signed, verify on", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true}), false, "tls: x509: certificate signed by unknown authority"},
		{"self-signed, insecure", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, Insecure: true, Path: "/?id=insecure"}), true, "status 200"},
		{"CA file, verified for the IP", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, CAFile: caFile, Path: "/?id=ip"}), true, "status 200"},
		{"CA file, SNI from Host", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, CAFile: caFile, Host: "www.example.test", Path: "/?id=host"}), true, "status 200"},
		{"CA file, explicit SNI", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, CAFile: caFile, SNI: "www.example.test", Path: "/?id=sni"}), true, "status 200"},
		{"CA file, wrong name", httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, CAFile: caFile, SNI: "other.example.test"}), false, "tls: x509: certificate is valid for www.example.test, not other.example.test"},
		{"client certificate required, none given", httpDef(mtls.Addr(), time.Second, HTTPSpec{TLS: true, Insecure: true}), false, "response headers: tls: certificate required"},
		{"client certificate given", httpDef(mtls.Addr(), time.Second, HTTPSpec{TLS: true, Insecure: true, CertFile: clientCertFile, KeyFile: clientKeyFile}), true, "status 200"},
		{"plain http to a TLS port", httpDef(plain.Addr(), time.Second, HTTPSpec{}), false, "status 400 not in 200-299"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCheck(t, tt.def, nil)
			if r.OK != tt.ok || (tt.reason != "" && r.Reason != tt.reason) {
				t.Fatalf("result %+v, want ok=%v reason %q", r, tt.ok, tt.reason)
			}
			if !tt.ok && r.Reason == "" {
				t.Fatal("a failure without a reason")
			}
		})
	}
	for id, want := range map[string]string{"insecure": "", "ip": "", "host": "www.example.test", "sni": "www.example.test"} {
		if got, _ := sni.Load(id); got != want {
			t.Errorf("check %s sent SNI %q, want %q", id, got, want)
		}
	}
	// A certificate file that cannot be read is a configuration error.
	if _, err := Build(httpDef(plain.Addr(), time.Second, HTTPSpec{TLS: true, CertFile: dir + "/none.crt", KeyFile: dir + "/none.key"}), nil); err == nil {
		t.Error("Build accepted a missing client certificate")
	}
}

func mustParse(t testing.TB, c tls.Certificate) *x509.Certificate {
	t.Helper()
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x
}
