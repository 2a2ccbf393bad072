package vrrp

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// ScriptConfig is a tracked command, keepalived's vrrp_script: run every
// Interval; Fall consecutive failures make it down, Rise consecutive
// successes make it up. Exit status 0 is success; a timeout is a failure.
type ScriptConfig struct {
	Name     string
	Command  []string // argv; no shell
	Interval time.Duration
	Timeout  time.Duration // default Interval
	Rise     int           // default 1
	Fall     int           // default 1
	InitFail bool          // start down instead of up
	// Exec runs the command once; its error (or a non-nil one for a
	// non-zero exit) is a failure. Default: exec it, killed at the
	// context's end.
	Exec func(ctx context.Context, argv []string) error `json:"-"`
}

// Script runs one ScriptConfig and reports up/down changes to its
// subscribers. One Script can feed any number of instances (as a
// vrrp_script is shared by the instances that track it).
type Script struct {
	cfg ScriptConfig
	log *logrus.Entry
	run func(ctx context.Context, argv []string) error // exec by default; tests may swap

	mu   sync.Mutex
	up   bool
	subs []func(key string, up bool)
	succ int
	fail int
}

// NewScript checks cfg and returns a stopped Script.
func NewScript(cfg ScriptConfig, log *logrus.Entry) (*Script, error) {
	if cfg.Name == "" || len(cfg.Command) == 0 {
		return nil, fmt.Errorf("vrrp script %q: needs a name and a command", cfg.Name)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = cfg.Interval
	}
	if cfg.Rise <= 0 {
		cfg.Rise = 1
	}
	if cfg.Fall <= 0 {
		cfg.Fall = 1
	}
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	s := &Script{
		cfg: cfg,
		log: log.WithFields(logrus.Fields{"component": "vrrp", "script": cfg.Name}),
		run: runCommand,
		up:  !cfg.InitFail,
	}
	if cfg.Exec != nil {
		s.run = cfg.Exec
	}
	return s, nil
}

// Key is the tracking key instances use for this script.
func (s *Script) Key() string { return string(TrackScript) + ":" + s.cfg.Name }

// Up is the current state.
func (s *Script) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up
}

// Subscribe registers fn (e.g. Instance.SetTrack) for state changes; it is
// called at once with the current state. fn must not block.
func (s *Script) Subscribe(fn func(key string, up bool)) {
	s.mu.Lock()
	s.subs = append(s.subs, fn)
	up := s.up
	s.mu.Unlock()
	fn(s.Key(), up)
}

// Run runs the command every Interval until ctx ends. A run that outlasts
// the interval delays the next one rather than overlapping it.
func (s *Script) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		started := time.Now()
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := s.run(rctx, s.cfg.Command)
		if rctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %v", s.cfg.Timeout)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.record(err)
		t.Reset(max(0, s.cfg.Interval-time.Since(started)))
	}
}

// record applies one result with rise/fall hysteresis.
func (s *Script) record(err error) {
	s.mu.Lock()
	if err == nil {
		s.succ++
		s.fail = 0
	} else {
		s.fail++
		s.succ = 0
	}
	changed := false
	switch {
	case !s.up && s.succ >= s.cfg.Rise:
		s.up, changed = true, true
	case s.up && s.fail >= s.cfg.Fall:
		s.up, changed = false, true
	}
	up := s.up
	subs := append([]func(string, bool){}, s.subs...)
	s.mu.Unlock()
	if !changed {
		return
	}
	if up {
		s.log.Info("script succeeded: up")
	} else {
		s.log.WithError(err).Warn("script failed: down")
	}
	for _, fn := range subs {
		fn(s.Key(), up)
	}
}

func runCommand(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return err
}
