package scenario

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// get sends one GET for path on c and returns the body's first line (the
// server's name for "/").
func get(c net.Conn, br *bufio.Reader, path string, keepAlive bool) (string, error) {
	conn := "close"
	if keepAlive {
		conn = "keep-alive"
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: lab\r\nConnection: %s\r\n\r\n", path, conn); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// errKind names a request's failure the way a person reads it.
func errKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

// Probe is one request of the prober: a new connection, one GET, closed.
type Probe struct {
	Start  time.Time
	Took   time.Duration
	Server string
	Err    error
}

// Prober is the client's traffic: a request on a new connection every
// interval, each with its own deadline, as many browsers and API clients
// make. It records every request.
type Prober struct {
	node    *Node
	target  string
	every   time.Duration
	timeout time.Duration

	mu       sync.Mutex
	probes   []Probe
	inflight sync.WaitGroup
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartProber starts probing target ("10.100.0.10:80") from node.
func StartProber(node *Node, target string, every, timeout time.Duration) *Prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Prober{node: node, target: target, every: every, timeout: timeout, cancel: cancel, done: make(chan struct{})}
	go p.run(ctx)
	return p
}

func (p *Prober) run(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	// Bound the requests in flight: a dead VIP must not pile up thousands.
	sem := make(chan struct{}, 200)
	for {
		select {
		case <-ctx.Done():
			p.inflight.Wait()
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			continue
		}
		p.inflight.Add(1)
		go func() {
			defer func() { <-sem; p.inflight.Done() }()
			pr := p.one()
			p.mu.Lock()
			p.probes = append(p.probes, pr)
			p.mu.Unlock()
		}()
	}
}

func (p *Prober) one() Probe {
	pr := Probe{Start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	c, err := p.node.Dial(ctx, p.target)
	if err == nil {
		_ = c.SetDeadline(pr.Start.Add(p.timeout))
		pr.Server, err = get(c, bufio.NewReader(c), "/", false)
		c.Close()
	}
	pr.Err = err
	pr.Took = time.Since(pr.Start)
	return pr
}

// Stop stops probing and waits for the requests in flight.
func (p *Prober) Stop() {
	p.cancel()
	<-p.done
}

// Settle waits until every request started before now has finished.
func (p *Prober) Settle() {
	time.Sleep(p.timeout + p.every)
}

// Stats sum up the requests started in a window.
type Stats struct {
	From, To  time.Time
	Requests  int
	Failed    int
	PerServer map[string]int
	// Errors counts the failures by kind (refused, reset, timeout, ...)
	// and, for refusals and resets, by the last server seen answering.
	Errors map[string]int
	// Outage is the longest stretch without service: from the start of
	// the first failed request of a run of failures to the start of the
	// next request that succeeded (or the window's end).
	Outage time.Duration
	// OutageFrom is when that stretch began.
	OutageFrom time.Time
	// Slowest is the longest successful request.
	Slowest time.Duration
}

// Window returns the stats of the requests started in [from, to); call
// Settle first so that those requests have finished.
func (p *Prober) Window(from, to time.Time) Stats {
	p.mu.Lock()
	ps := make([]Probe, 0, len(p.probes))
	for _, pr := range p.probes {
		if !pr.Start.Before(from) && pr.Start.Before(to) {
			ps = append(ps, pr)
		}
	}
	p.mu.Unlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].Start.Before(ps[j].Start) })
	st := Stats{From: from, To: to, PerServer: map[string]int{}, Errors: map[string]int{}}
	var runStart time.Time
	closeRun := func(end time.Time) {
		if !runStart.IsZero() {
			if d := end.Sub(runStart); d > st.Outage {
				st.Outage, st.OutageFrom = d, runStart
			}
			runStart = time.Time{}
		}
	}
	for _, pr := range ps {
		st.Requests++
		if pr.Err != nil {
			st.Failed++
			st.Errors[errKind(pr.Err)]++
			if runStart.IsZero() {
				runStart = pr.Start
			}
			continue
		}
		closeRun(pr.Start)
		st.PerServer[pr.Server]++
		st.Slowest = max(st.Slowest, pr.Took)
	}
	closeRun(to)
	return st
}

// FailedSince lists the failed requests started at or after from.
func (p *Prober) FailedSince(from time.Time) []Probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Probe
	for _, pr := range p.probes {
		if pr.Err != nil && !pr.Start.Before(from) {
			out = append(out, pr)
		}
	}
	return out
}

// Spread formats per-server counts: "web1 40  web2 41  web3 39".
func Spread(per map[string]int) string {
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%s %d", n, per[n])
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// FormatErrors formats error counts: "timeout 12, refused 3".
func FormatErrors(errs map[string]int) string {
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

// Streams are long-lived connections through the VIP: keep-alive
// connections that send a request every interval and must always be
// answered by the same server, and large downloads that must arrive whole.
// A connection that errs (reset, timeout, closed, another server) is
// broken.
type Streams struct {
	list   []*stream
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type stream struct {
	id       int
	download bool
	mu       sync.Mutex
	server   string
	requests int
	bytes    int64
	err      error
	errAt    time.Time
	complete bool
	lastOK   time.Time // last answered request, or last bytes of a download
}

// StreamSpec says what OpenStreams opens.
type StreamSpec struct {
	Conns     int           // total connections
	Downloads int           // of which large downloads
	Every     time.Duration // keep-alive request interval
	// DownloadBytes at DownloadRate bytes/s: choose them to outlast the
	// drill.
	DownloadBytes, DownloadRate int64
	// Patience is how long one request (or one read of a download) may
	// take before the connection counts as broken: long enough for TCP to
	// retransmit across a failover.
	Patience time.Duration
}

// OpenStreams opens the connections from node to target and starts their
// traffic; it returns once every connection has been answered once.
func OpenStreams(ctx context.Context, node *Node, target string, spec StreamSpec) (*Streams, error) {
	rctx, cancel := context.WithCancel(context.Background())
	s := &Streams{cancel: cancel}
	ready := make(chan error, spec.Conns)
	for i := range spec.Conns {
		st := &stream{id: i, download: i < spec.Downloads}
		s.list = append(s.list, st)
		c, err := node.Dial(ctx, target)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open long-lived connection %d of %d to %s: %w", i+1, spec.Conns, target, err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			go func() { <-rctx.Done(); c.Close() }()
			if st.download {
				st.runDownload(rctx, c, spec, ready)
			} else {
				st.runKeepAlive(rctx, c, spec, ready)
			}
		}()
	}
	for range spec.Conns {
		select {
		case err := <-ready:
			if err != nil {
				s.Close()
				return nil, err
			}
		case <-ctx.Done():
			s.Close()
			return nil, ctx.Err()
		}
	}
	return s, nil
}

func (st *stream) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // closed by us
	}
	st.mu.Lock()
	if st.err == nil {
		st.err, st.errAt = err, time.Now()
	}
	st.mu.Unlock()
}

func (st *stream) runKeepAlive(ctx context.Context, c net.Conn, spec StreamSpec, ready chan<- error) {
	br := bufio.NewReader(c)
	tick := time.NewTicker(spec.Every)
	defer tick.Stop()
	first := true
	for {
		_ = c.SetDeadline(time.Now().Add(spec.Patience))
		name, err := get(c, br, "/", true)
		if first {
			first = false
			if err != nil {
				ready <- fmt.Errorf("long-lived connection %d: first request: %w", st.id, err)
				return
			}
			ready <- nil
		}
		st.mu.Lock()
		switch {
		case err != nil:
		case st.server == "":
			st.server = name
		case name != st.server:
			err = fmt.Errorf("answered by %s, not %s", name, st.server)
		}
		if err == nil {
			st.requests++
			st.lastOK = time.Now()
		}
		st.mu.Unlock()
		if err != nil {
			st.fail(ctx, fmt.Errorf("request %d: %w", st.requests+1, err))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (st *stream) runDownload(ctx context.Context, c net.Conn, spec StreamSpec, ready chan<- error) {
	_ = c.SetDeadline(time.Now().Add(spec.Patience))
	if _, err := fmt.Fprintf(c, "GET /big?bytes=%d&rate=%d HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n", spec.DownloadBytes, spec.DownloadRate); err != nil {
		ready <- fmt.Errorf("download %d: %w", st.id, err)
		return
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		ready <- fmt.Errorf("download %d: %w", st.id, err)
		return
	}
	defer resp.Body.Close()
	st.mu.Lock()
	st.server = resp.Header.Get("X-Server")
	st.mu.Unlock()
	ready <- nil
	buf := make([]byte, 32<<10)
	var got int64
	for {
		_ = c.SetReadDeadline(time.Now().Add(spec.Patience))
		n, err := resp.Body.Read(buf)
		for i := range n {
			if buf[i] != patternByte(got+int64(i)) {
				st.fail(ctx, fmt.Errorf("download: byte %d is wrong", got+int64(i)))
				return
			}
		}
		got += int64(n)
		st.mu.Lock()
		st.bytes = got
		if n > 0 {
			st.lastOK = time.Now()
		}
		st.mu.Unlock()
		if err == io.EOF {
			st.mu.Lock()
			st.complete = got == spec.DownloadBytes
			st.mu.Unlock()
			if got != spec.DownloadBytes {
				st.fail(ctx, fmt.Errorf("download: %d of %d bytes", got, spec.DownloadBytes))
			}
			return
		}
		if err != nil {
			st.fail(ctx, fmt.Errorf("download after %d bytes: %w", got, err))
			return
		}
	}
}

// StreamReport is the state of the long-lived connections.
type StreamReport struct {
	Total, Broken int
	// Requests answered on keep-alive connections, bytes downloaded.
	Requests int
	Bytes    int64
	// Errors holds one line per broken connection.
	Errors []string
	// Servers counts the connections per server.
	Servers map[string]int
}

// Report says how many connections are broken so far.
func (s *Streams) Report() StreamReport {
	r := StreamReport{Total: len(s.list), Servers: map[string]int{}}
	for _, st := range s.list {
		st.mu.Lock()
		r.Requests += st.requests
		r.Bytes += st.bytes
		r.Servers[st.server]++
		if st.err != nil {
			r.Broken++
			kind := "keep-alive"
			if st.download {
				kind = "download"
			}
			r.Errors = append(r.Errors, fmt.Sprintf("%s %d (%s): %v", kind, st.id, st.server, st.err))
		}
		st.mu.Unlock()
	}
	return r
}

// Settle waits until every connection has either broken or carried
// traffic after t (a request answered, bytes of a download), so that a
// count of broken connections after a failover at t is final. It waits at
// most within and returns how many connections are still undecided (no
// traffic since t and no error yet: stuck).
func (s *Streams) Settle(t time.Time, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		undecided := 0
		for _, st := range s.list {
			st.mu.Lock()
			if st.err == nil && !st.complete && !st.lastOK.After(t) {
				undecided++
			}
			st.mu.Unlock()
		}
		if undecided == 0 || time.Now().After(deadline) {
			return undecided
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close ends every connection (without counting that as breaking it).
func (s *Streams) Close() {
	s.cancel()
	s.wg.Wait()
}

// Timeout is the deadline of one request.
func (p *Prober) Timeout() time.Duration { return p.timeout }

// SyncDelay is how late the kernel's connection sync daemon may copy a new
// connection to the backup: a lightly loaded master sends its buffer every
// 2 seconds (IPVS_SYNC_FLUSH_TIME), sooner only when it fills. A margin is
// added.
const SyncDelay = 2500 * time.Millisecond

// MoveReport sorts the failed requests around a planned move of the VIP
// (a handover or a preemption, both directors alive).
type MoveReport struct {
	// InFlight counts the requests reset because they were open when the
	// VIP moved and younger than SyncDelay: the new master never heard of
	// their connections.
	InFlight int
	// Other are every other failure: none is expected.
	Other []Probe
}

// AcrossMove sorts the failures of the requests started in [from, to)
// around a move observed at moved.
func (p *Prober) AcrossMove(from, to, moved time.Time) MoveReport {
	var r MoveReport
	for _, f := range p.FailedSince(from) {
		if !f.Start.Before(to) {
			continue
		}
		end := f.Start.Add(f.Took)
		// moved is when the lab saw the new master's log line, a little
		// after the gratuitous ARPs that moved the client.
		if f.Start.After(moved.Add(-SyncDelay)) && !f.Start.After(moved.Add(100*time.Millisecond)) && end.After(moved.Add(-300*time.Millisecond)) {
			r.InFlight++
			continue
		}
		r.Other = append(r.Other, f)
	}
	return r
}
