// Package ratelog keeps an error that repeats from flooding the log: the
// first occurrence is written at once, identical ones in the next window
// (a minute by default) are only counted, and one line with the count
// closes the window:
//
//	level=error msg="IPVS sync failed; retrying soon" error="..."
//	level=error msg="IPVS sync failed; retrying soon (repeated 29 times in 1m)" error="..." repeated=29
//
// Identical means the same logger, level, message and fields, so a second
// failing object, or a different error, still gets its own line at once.
// Call sites opt in (ratelog.Warn(log.WithError(err), "...")): state
// changes are never limited, only what can repeat without changing (a
// kernel write refused on every sync, a socket error, a neighbour sending
// bad packets every second). The package knows nothing of lvsd's rooms;
// ipvs, vrrp, checkers and director all use it.
package ratelog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
)

// DefaultWindow is the window of Default.
const DefaultWindow = time.Minute

// Default is the limiter the package functions use. `lvsd run` runs its
// flusher (Default.Run) so that a count is written when its window ends
// even if the error stops; without it, the count is written with the next
// occurrence after the window.
var Default = New(DefaultWindow, nil)

// Warn logs msg at warning level through Default.
func Warn(log logrus.FieldLogger, msg string) { Default.Log(log, logrus.WarnLevel, msg) }

// Error logs msg at error level through Default.
func Error(log logrus.FieldLogger, msg string) { Default.Log(log, logrus.ErrorLevel, msg) }

// Info logs msg at info level through Default (for a notice that can
// repeat every second, such as a split brain's re-announcements).
func Info(log logrus.FieldLogger, msg string) { Default.Log(log, logrus.InfoLevel, msg) }

// maxKeys bounds the memory a flood of distinct lines can take; beyond it
// lines are written unlimited rather than forgotten.
const maxKeys = 4096

// Limiter rate-limits identical log lines. Safe for concurrent use.
type Limiter struct {
	window time.Duration
	clock  clockwork.Clock

	mu   sync.Mutex
	recs map[string]*record
}

// record is one key's current window.
type record struct {
	start time.Time
	// n counts the occurrences suppressed since start; last is the latest
	// of them, whose fields the count line carries.
	n    int
	last *logrus.Entry
	lvl  logrus.Level
	msg  string
}

// New returns a limiter with the given window (DefaultWindow if <= 0) on
// clock (the real one if nil).
func New(window time.Duration, clock clockwork.Clock) *Limiter {
	if window <= 0 {
		window = DefaultWindow
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &Limiter{window: window, clock: clock, recs: map[string]*record{}}
}

// Log writes msg at lvl through log, unless an identical line was written
// within the window: then it is counted, for the line that closes the
// window.
func (l *Limiter) Log(log logrus.FieldLogger, lvl logrus.Level, msg string) {
	l.log(entryOf(log), "", lvl, msg)
}

// LogAs is Log with lines told apart by group instead of by their message
// and fields: lines of one group (and logger and level) share one window
// however their details differ, and the count line carries the last one's.
// For details that vary without mattering, such as each bad packet's
// values.
func (l *Limiter) LogAs(group string, log logrus.FieldLogger, lvl logrus.Level, msg string) {
	l.log(entryOf(log), group, lvl, msg)
}

func (l *Limiter) log(e *logrus.Entry, group string, lvl logrus.Level, msg string) {
	if !e.Logger.IsLevelEnabled(lvl) {
		return
	}
	var k string
	if group != "" {
		k = fmt.Sprintf("%p\x00%d\x00group\x00%s", e.Logger, lvl, group)
	} else {
		k = key(e, lvl, msg)
	}
	now := l.clock.Now()
	var summary []*record
	l.mu.Lock()
	r := l.recs[k]
	if r != nil && !now.Before(r.start.Add(l.window)) {
		if s := l.close(k, r, now); s != nil {
			summary = append(summary, s)
		}
		r = l.recs[k]
	}
	write := false
	switch {
	case r != nil:
		r.n++
		r.last, r.msg = e, msg
	case len(l.recs) >= maxKeys:
		write = true // too many distinct lines to remember: write them all
	default:
		l.recs[k] = &record{start: now, lvl: lvl, msg: msg}
		write = true
	}
	l.mu.Unlock()
	l.emit(summary, now)
	if write {
		e.Log(lvl, msg)
	}
}

// close ends r's window at now. With suppressed occurrences it returns a
// copy for the count line and starts a new window (the count line is that
// window's one line); without, it forgets the key, so the next occurrence
// is written at once.
func (l *Limiter) close(k string, r *record, now time.Time) *record {
	if r.n == 0 {
		delete(l.recs, k)
		return nil
	}
	s := *r
	r.start, r.n, r.last = now, 0, nil
	return &s
}

// emit writes the count lines.
func (l *Limiter) emit(rs []*record, now time.Time) {
	for _, r := range rs {
		took := now.Sub(r.start).Truncate(time.Second)
		r.last.WithField("repeated", r.n).Log(r.lvl, fmt.Sprintf("%s (repeated %d %s in %s)", r.msg, r.n, times(r.n), shortDuration(took)))
	}
}

// Flush ends every window that is over: counts are written, quiet keys
// forgotten.
func (l *Limiter) Flush() {
	now := l.clock.Now()
	var out []*record
	l.mu.Lock()
	for _, k := range slices.Sorted(mapKeys(l.recs)) {
		r := l.recs[k]
		if now.Before(r.start.Add(l.window)) {
			continue
		}
		if s := l.close(k, r, now); s != nil {
			out = append(out, s)
		}
	}
	l.mu.Unlock()
	l.emit(out, now)
}

// Run flushes about every second until ctx is done, then writes the
// counts still pending, whatever their windows, so that a stop loses none.
func (l *Limiter) Run(ctx context.Context) {
	tick := min(l.window/4, time.Second)
	t := l.clock.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flushAll()
			return
		case <-t.Chan():
			l.Flush()
		}
	}
}

func (l *Limiter) flushAll() {
	now := l.clock.Now()
	var out []*record
	l.mu.Lock()
	for _, k := range slices.Sorted(mapKeys(l.recs)) {
		r := l.recs[k]
		if r.n > 0 {
			s := *r
			out = append(out, &s)
		}
		delete(l.recs, k)
	}
	l.mu.Unlock()
	l.emit(out, now)
}

// Pending is how many keys the limiter remembers (for tests).
func (l *Limiter) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// entryOf turns any logrus.FieldLogger into an entry with its fields.
func entryOf(log logrus.FieldLogger) *logrus.Entry {
	switch v := log.(type) {
	case *logrus.Entry:
		return v
	case *logrus.Logger:
		return logrus.NewEntry(v)
	case nil:
		return logrus.NewEntry(logrus.StandardLogger())
	}
	return log.WithFields(nil)
}

// key identifies a line: its logger, level, message and fields.
func key(e *logrus.Entry, lvl logrus.Level, msg string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%p\x00%d\x00%s", e.Logger, lvl, msg)
	names := make([]string, 0, len(e.Data))
	for k := range e.Data {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := e.Data[k]
		if err, ok := v.(error); ok {
			v = err.Error()
		}
		fmt.Fprintf(&b, "\x00%s=%v", k, v)
	}
	return b.String()
}

func times(n int) string {
	if n == 1 {
		return "time"
	}
	return "times"
}

// shortDuration writes whole durations as people do: 1m, 2m30s, 1h.
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
