package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/director"
)

// Director is what the API needs from the daemon: its status and the
// override switch. *director.Director is one.
type Director interface {
	StatusSource
	SetOverride(ctx context.Context, id string, o director.Override) error
}

// Options configure a Server.
type Options struct {
	// Director is required.
	Director Director
	// Reload reloads the configuration as SIGHUP does (lvsd run passes
	// its own, which also re-applies the logging settings and tells
	// systemd). Nil: POST /v1/reload answers 501.
	Reload func(context.Context) (director.ReloadResult, error)
	// StepDown makes the VRRP instance (every instance this node is
	// master of, if empty) leave MASTER for d, and returns the instances
	// it stepped down. Nil: POST /v1/failover answers 501 (no VRRP).
	StepDown func(ctx context.Context, instance string, d time.Duration) ([]string, error)
	// Counters reads the kernel's counters; nil: the status has none.
	Counters *Counters
	// Socket is the unix socket of the full API; Mode its permissions
	// (default 0600).
	Socket string
	Mode   fs.FileMode
	// Listen, if valid, serves the read-only API on TCP as well.
	Listen netip.AddrPort
	Meta   Meta
	Log    logrus.FieldLogger
}

// DefaultFailoverHold is how long a failover keeps the instance out of
// MASTER when the request does not say.
const DefaultFailoverHold = 30 * time.Second

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Server is the control API: JSON over HTTP on a unix socket (read and
// write), and optionally on TCP (read only: writes answer 403 there).
type Server struct {
	opts Options
	log  logrus.FieldLogger

	unixLn *net.UnixListener
	tcpLn  net.Listener
	// ino identifies the socket file this server created, so that
	// stopping removes it only if no one replaced it meanwhile.
	ino uint64
}

// Listen creates the socket (replacing a stale one nobody answers on;
// refusing if another daemon answers on it) and the TCP listener. Nothing
// is served until Serve.
func Listen(opts Options) (*Server, error) {
	if opts.Director == nil {
		return nil, errors.New("control API: no director")
	}
	if opts.Socket == "" {
		return nil, errors.New("control API: no socket path")
	}
	if opts.Mode == 0 {
		opts.Mode = 0o600
	}
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	s := &Server{opts: opts, log: opts.Log.WithField("component", "control")}
	if err := s.listenUnix(); err != nil {
		return nil, err
	}
	if opts.Listen.IsValid() {
		ln, err := net.Listen("tcp", opts.Listen.String())
		if err != nil {
			s.closeUnix()
			return nil, fmt.Errorf("control API: listen on %s: %w", opts.Listen, err)
		}
		s.tcpLn = ln
	}
	return s, nil
}

// listenUnix binds the socket under a temporary name, sets its mode and
// renames it into place: the final path never exists with other
// permissions, and no process-wide umask is touched.
func (s *Server) listenUnix() error {
	path := s.opts.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control API: create the socket's directory: %w", err)
	}
	if err := clearStale(path, s.log); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), os.Getpid()))
	_ = os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control API: listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) error {
		ln.Close()
		os.Remove(tmp)
		return fmt.Errorf("control API: socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, s.opts.Mode.Perm()); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil {
		s.ino = st.Ino
	}
	s.unixLn = ln
	return nil
}

// clearStale removes a socket file at path that nothing answers on (left
// by a daemon that died). A live one, or a file that is not a socket, is
// an error: never take over another daemon's socket.
func clearStale(path string, log logrus.FieldLogger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control API: %s exists and is not a socket; remove it or set control.socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control API: another process (another lvsd?) answers on %s; stop it, or set control.socket", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("control API: probe the existing socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("control API: remove the stale socket %s: %w", path, err)
	}
	log.WithField("socket", path).Info("removed a stale control socket nothing answered on")
	return nil
}

// Socket is the unix socket's path.
func (s *Server) Socket() string { return s.opts.Socket }

// TCPAddr is the TCP listener's address, if any.
func (s *Server) TCPAddr() net.Addr {
	if s.tcpLn == nil {
		return nil
	}
	return s.tcpLn.Addr()
}

// Serve serves until ctx is done, then stops accepting, lets requests in
// flight finish (up to 5 s), closes the listeners and removes the socket.
func (s *Server) Serve(ctx context.Context) error {
	servers := []*http.Server{s.httpServer(s.mux(false), true)}
	lns := []net.Listener{s.unixLn}
	if s.tcpLn != nil {
		servers = append(servers, s.httpServer(s.mux(true), false))
		lns = append(lns, s.tcpLn)
	}
	f := logrus.Fields{"socket": s.opts.Socket, "mode": fmt.Sprintf("%04o", s.opts.Mode.Perm())}
	if s.tcpLn != nil {
		f["listen"] = s.tcpLn.Addr().String()
	}
	s.log.WithFields(f).Info("control API listening")

	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(lns[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
		s.log.WithError(err).Error("control API stopped")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
	}
	wg.Wait()
	s.closeUnix()
	return err
}

// closeUnix closes the socket and removes its file if it is still the
// one this server created.
func (s *Server) closeUnix() {
	if s.unixLn == nil {
		return
	}
	s.unixLn.Close()
	var st unix.Stat_t
	if err := unix.Stat(s.opts.Socket, &st); err == nil && st.Ino == s.ino {
		os.Remove(s.opts.Socket)
	}
	s.unixLn = nil
}

type ctxKey struct{}

// peer is who is on the other end of a unix connection.
type peer struct {
	uid, pid int
}

func (s *Server) httpServer(h http.Handler, unixSocket bool) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          nil,
	}
	if unixSocket {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			uc, ok := c.(*net.UnixConn)
			if !ok {
				return ctx
			}
			raw, err := uc.SyscallConn()
			if err != nil {
				return ctx
			}
			var cred *unix.Ucred
			_ = raw.Control(func(fd uintptr) {
				cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
			})
			if cred == nil {
				return ctx
			}
			return context.WithValue(ctx, ctxKey{}, peer{uid: int(cred.Uid), pid: int(cred.Pid)})
		}
	}
	return srv
}

// mux routes the API. readOnly (TCP) refuses every write with 403.
func (s *Server) mux(readOnly bool) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/status", s.getStatus)
	m.HandleFunc("GET /v1/health", s.getHealth)
	m.HandleFunc("GET /v1/virtual-servers", s.getVirtualServers)
	m.HandleFunc("GET /v1/virtual-servers/{name}", s.getVirtualServer)
	m.HandleFunc("GET /v1/real-servers/{ref...}", s.getRealServer)
	m.HandleFunc("GET /v1/vrrp", s.getVRRP)
	writes := map[string]http.HandlerFunc{
		"POST /v1/reload":   s.postReload,
		"POST /v1/override": s.postOverride,
		"POST /v1/failover": s.postFailover,
	}
	for pattern, h := range writes {
		if readOnly {
			h = func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusForbidden, Error{Error: "the TCP control API is read-only: send writes to the unix socket on the director"})
			}
		}
		m.HandleFunc(pattern, h)
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("no endpoint %s %s (see docs/operations.md)", r.Method, r.URL.Path)})
	})
	return m
}

func (s *Server) status(ctx context.Context) Status {
	return BuildStatus(Take(ctx, s.opts.Director, s.opts.Counters), s.opts.Meta)
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status(r.Context()))
}

// getHealth answers 200 once the first sync is done, 503 before: for
// load balancer and monitoring probes.
func (s *Server) getHealth(w http.ResponseWriter, _ *http.Request) {
	st := s.opts.Director.Status()
	body := map[string]any{"ready": st.Ready, "config": st.ConfigHash}
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func (s *Server) getVirtualServers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.status(r.Context()).VirtualServers)
}

func (s *Server) getVirtualServer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, vs := range s.status(r.Context()).VirtualServers {
		if vs.Name == name {
			writeJSON(w, http.StatusOK, vs)
			return
		}
	}
	writeError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("no virtual server %q", name)})
}

func (s *Server) getRealServer(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	ds := s.opts.Director.Status()
	ids, err := Resolve(&ds, ref, false)
	if err != nil {
		s.resolveError(w, err)
		return
	}
	for _, vs := range s.status(r.Context()).VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.ID == ids[0] {
				writeJSON(w, http.StatusOK, rs)
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, Error{Error: fmt.Sprintf("real server %q is not in the configuration (only its override is)", ids[0])})
}

func (s *Server) getVRRP(w http.ResponseWriter, r *http.Request) {
	ds := s.opts.Director.Status()
	writeJSON(w, http.StatusOK, buildVRRP(&ds))
}

func (s *Server) resolveError(w http.ResponseWriter, err error) {
	var amb *AmbiguousError
	switch {
	case errors.As(err, &amb):
		writeError(w, http.StatusConflict, Error{Error: err.Error(), Candidates: amb.Candidates})
	case errors.Is(err, ErrNoRealServer):
		writeError(w, http.StatusNotFound, Error{Error: err.Error()})
	default:
		writeError(w, http.StatusInternalServerError, Error{Error: err.Error()})
	}
}

// audit is the log entry of a write, naming who asked.
func (s *Server) audit(r *http.Request) logrus.FieldLogger {
	l := s.log
	if p, ok := r.Context().Value(ctxKey{}).(peer); ok {
		l = l.WithFields(logrus.Fields{"uid": p.uid, "pid": p.pid})
	}
	return l
}

func (s *Server) postReload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reload == nil {
		writeError(w, http.StatusNotImplemented, Error{Error: "this daemon cannot reload through the API"})
		return
	}
	s.audit(r).Info("reload requested")
	res, err := s.opts.Reload(r.Context())
	out := ReloadResponse{Ops: []string{}}
	for _, op := range res.Ops {
		out.Ops = append(out.Ops, op.String())
	}
	out.Writes = res.Writes
	out.Hash, out.Changed = res.Hash, res.Changed
	out.Diagnostics = diagnostics(res.Diagnostics)
	if len(res.Diagnostics) > 0 {
		out.Text = director.FormatDiagnostics(res.Diagnostics, nil)
	}
	if err == nil {
		out.OK = true
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Error = err.Error()
	var cerr *director.ConfigError
	switch {
	case errors.As(err, &cerr):
		writeJSON(w, http.StatusUnprocessableEntity, out)
	case errors.Is(err, director.ErrStopped), errors.Is(err, context.Canceled):
		writeJSON(w, http.StatusServiceUnavailable, out)
	case s.opts.Director.Status().Reload.OK:
		// Applied, but the kernel sync after it failed (it is retried).
		out.OK = true
		out.Hash = s.opts.Director.Status().ConfigHash
		writeJSON(w, http.StatusOK, out)
	default:
		writeJSON(w, http.StatusUnprocessableEntity, out)
	}
}

func diagnostics(diags hcl.Diagnostics) []Diagnostic {
	var out []Diagnostic
	for _, d := range diags {
		sev := "warning"
		if d.Severity == hcl.DiagError {
			sev = "error"
		}
		dd := Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			dd.At = d.Subject.String()
		}
		out = append(out, dd)
	}
	return out
}

func (s *Server) postOverride(w http.ResponseWriter, r *http.Request) {
	var req OverrideRequest
	if !readJSON(w, r, &req) {
		return
	}
	o, err := director.ParseOverride(req.Override)
	if err != nil || req.Override == "" {
		writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("override %q: want drain, disable or enable", req.Override)})
		return
	}
	ds := s.opts.Director.Status()
	ids, err := Resolve(&ds, req.RealServer, req.All)
	if err != nil {
		s.resolveError(w, err)
		return
	}
	was := map[string]director.Override{}
	for _, vs := range ds.VirtualServers {
		for _, rs := range vs.RealServers {
			was[rs.ID] = rs.Override
		}
	}
	for _, ov := range ds.Overrides {
		was[ov.RealServer] = ov.Override
	}
	out := OverrideResponse{Changed: []OverrideChange{}}
	for _, id := range ids {
		s.audit(r).WithFields(logrus.Fields{"rs": id, "override": o.String()}).Info("override requested")
		if err := s.opts.Director.SetOverride(r.Context(), id, o); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, director.ErrStopped) {
				code = http.StatusServiceUnavailable
			}
			writeError(w, code, Error{Error: fmt.Sprintf("%s: %v", id, err)})
			return
		}
		out.Changed = append(out.Changed, OverrideChange{RealServer: id, Was: was[id].String(), Now: o.String()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postFailover(w http.ResponseWriter, r *http.Request) {
	var req FailoverRequest
	if !readJSON(w, r, &req) {
		return
	}
	hold := DefaultFailoverHold
	if req.For != "" {
		d, err := time.ParseDuration(req.For)
		if err != nil || d <= 0 {
			writeError(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("for %q: want a positive duration such as 30s or 5m", req.For)})
			return
		}
		hold = d
	}
	if s.opts.StepDown == nil {
		writeError(w, http.StatusNotImplemented, Error{Error: ErrNoVRRP.Error()})
		return
	}
	s.audit(r).WithFields(logrus.Fields{"instance": req.Instance, "for": hold.String()}).Info("failover requested")
	names, err := s.opts.StepDown(r.Context(), req.Instance, hold)
	if err != nil {
		code := http.StatusConflict
		switch {
		case errors.Is(err, ErrNoInstance), errors.Is(err, director.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, ErrNoVRRP):
			code = http.StatusNotImplemented
		case errors.Is(err, director.ErrStopped):
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, FailoverResponse{Instances: names, Until: time.Now().Add(hold).Truncate(time.Second)})
}

// ErrNoInstance is what a StepDown returns for an unknown instance.
var ErrNoInstance = errors.New("no such vrrp_instance")

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, Error{Error: "send application/json"})
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, Error{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, e Error) { writeJSON(w, code, e) }
