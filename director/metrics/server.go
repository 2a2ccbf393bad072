package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// Server serves the metrics over HTTP.
type Server struct {
	m    *Metrics
	path string
	ln   net.Listener
	log  logrus.FieldLogger
}

// Listen opens the metrics listener on addr; path is where the metrics
// are served (default /metrics).
func (m *Metrics) Listen(addr netip.AddrPort, path string, log logrus.FieldLogger) (*Server, error) {
	if path == "" {
		path = "/metrics"
	}
	if log == nil {
		log = logrus.StandardLogger()
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return &Server{m: m, path: path, ln: ln, log: log.WithField("component", "metrics")}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done, then stops (letting scrapes in flight
// finish for up to 5 s).
func (s *Server) Serve(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle(s.path, promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{
		ErrorLog:            promLogger{s.log},
		MaxRequestsInFlight: 4,
		Timeout:             s.m.opts.ScrapeTimeout + 5*time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lvsd serves its metrics on "+s.path, http.StatusNotFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	s.log.WithFields(logrus.Fields{"listen": s.ln.Addr().String(), "path": s.path}).Info("metrics listening")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.log.WithError(err).Error("metrics server stopped")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	if e := <-errcOrNil(errc, err); e != nil && !errors.Is(e, http.ErrServerClosed) {
		return e
	}
	return nil
}

// errcOrNil waits for the serving goroutine unless it already reported.
func errcOrNil(errc chan error, reported error) chan error {
	if reported != nil {
		c := make(chan error, 1)
		c <- reported
		return c
	}
	return errc
}

// promLogger routes promhttp's errors to logrus.
type promLogger struct{ l logrus.FieldLogger }

func (p promLogger) Println(v ...any) { p.l.Error(fmt.Sprint(v...)) }
