package scenario

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// WebServer is a real server: an HTTP server in its node that says who it
// is. It can be killed (as a crash: listener and connections closed, new
// connections refused by the kernel) and started again.
//
//	GET /         its name, one line
//	GET /healthz  "ok" (what the directors check)
//	GET /big?bytes=N&rate=R   N bytes of a known pattern at R bytes/s
type WebServer struct {
	Name string
	node *Node
	addr string

	mu    sync.Mutex
	srv   *http.Server
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewWebServer starts a server on node at addr ("0.0.0.0:80").
func NewWebServer(node *Node, addr string) (*WebServer, error) {
	s := &WebServer{Name: node.Name, node: node, addr: addr}
	return s, s.Start()
}

// Start starts the server (again); a running one is left alone.
func (s *WebServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := s.node.Listen(s.addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, s.Name) })
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/big", s.big)
	s.conns = map[net.Conn]bool{}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ConnState: func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns[c] = true
		case http.StateClosed, http.StateHijacked:
			delete(s.conns, c)
		}
	}}
	s.srv = srv
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = srv.Serve(ln) }()
	return nil
}

// Kill stops the server as a crash would.
func (s *WebServer) Kill() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	var conns []net.Conn
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
}

// Running says whether the server is up.
func (s *WebServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// patternByte is byte i of every /big body, so that a client can check
// what it received without a copy.
func patternByte(i int64) byte { return byte(i % 251) }

func (s *WebServer) big(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
	rate, _ := strconv.ParseInt(r.URL.Query().Get("rate"), 10, 64)
	if n <= 0 || rate <= 0 {
		http.Error(w, "want bytes and rate", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("X-Server", s.Name)
	rc := http.NewResponseController(w)
	const chunk = 16 << 10
	buf := make([]byte, chunk)
	start := time.Now()
	ctx := r.Context()
	for sent := int64(0); sent < n; {
		m := min(int64(chunk), n-sent)
		for i := range m {
			buf[i] = patternByte(sent + i)
		}
		// Keep to the rate: this chunk is due at sent/rate after the start.
		if wait := time.Until(start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write(buf[:m]); err != nil {
			return
		}
		sent += m
	}
}

// servers is the set of web servers of a lab.
type servers []*WebServer

func (ss servers) byName(name string) *WebServer {
	for _, s := range ss {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (ss servers) killAll() {
	for _, s := range ss {
		s.Kill()
	}
}
