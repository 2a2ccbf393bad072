package vrrp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// notifier runs an instance's (or sync group's) notify hooks one after
// another, in transition order, off the protocol goroutine: a slow hook
// never delays an advert.
type notifier struct {
	cfg  Notify
	kind string // "INSTANCE" or "GROUP", keepalived's first argument
	name string
	vrid uint8
	log  *logrus.Entry
	// run executes one hook; tests swap it.
	run func(ctx context.Context, argv, env []string) error

	mu    sync.Mutex
	queue []notifyJob
	wake  chan struct{}
}

type notifyJob struct {
	argv []string
	env  []string
}

func newNotifier(cfg Notify, kind, name string, vrid uint8, log *logrus.Entry) *notifier {
	n := &notifier{cfg: cfg, kind: kind, name: name, vrid: vrid, log: log, run: runHook, wake: make(chan struct{}, 1)}
	if cfg.Run != nil {
		n.run = cfg.Run
	}
	return n
}

func (n *notifier) empty() bool {
	c := n.cfg
	return len(c.Master) == 0 && len(c.Backup) == 0 && len(c.Fault) == 0 && len(c.Stop) == 0 && len(c.Any) == 0
}

// hooks returns the argvs to run for entering state to: the state's own
// hook, then Any with keepalived's four arguments.
func (n *notifier) hooks(to State, stopped bool, prio uint8) [][]string {
	var out [][]string
	state := to.String()
	var own []string
	switch {
	case stopped:
		own, state = n.cfg.Stop, "STOP"
	case to == Master:
		own = n.cfg.Master
	case to == Backup:
		own = n.cfg.Backup
	case to == Fault:
		own = n.cfg.Fault
	}
	if len(own) > 0 {
		out = append(out, own)
	}
	if len(n.cfg.Any) > 0 {
		argv := append(append([]string{}, n.cfg.Any...), n.kind, n.name, state, strconv.Itoa(int(prio)))
		out = append(out, argv)
	}
	return out
}

// notify queues the hooks for tr.
func (n *notifier) notify(tr Transition) {
	if n.empty() {
		return
	}
	stopped := tr.To == Init && tr.Reason == ReasonShutdown
	if tr.To == Init && !stopped {
		return
	}
	if tr.Reason == ReasonResume && tr.From == Init {
		return // a replacement taking up a state: nothing changed for the hooks
	}
	state := tr.To.String()
	if stopped {
		state = "STOP"
	}
	env := append(append([]string(nil), n.cfg.Env...),
		"LVSD_KIND="+n.kind,
		"LVSD_INSTANCE="+n.name,
		"LVSD_VRID="+strconv.Itoa(int(n.vrid)),
		"LVSD_STATE="+state,
		"LVSD_FROM="+tr.From.String(),
		"LVSD_PRIORITY="+strconv.Itoa(int(tr.Priority)),
		"LVSD_REASON="+string(tr.Reason),
	)
	n.mu.Lock()
	for _, argv := range n.hooks(tr.To, stopped, tr.Priority) {
		n.queue = append(n.queue, notifyJob{argv: argv, env: env})
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// loop runs queued hooks until ctx ends, then drains what is queued
// (the stop hook) within the hook timeout.
func (n *notifier) loop(ctx context.Context) {
	for {
		n.drain(context.WithoutCancel(ctx))
		select {
		case <-ctx.Done():
			n.drain(context.WithoutCancel(ctx))
			return
		case <-n.wake:
		}
	}
}

func (n *notifier) drain(ctx context.Context) {
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return
		}
		job := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		hctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
		start := time.Now()
		err := n.run(hctx, job.argv, job.env)
		cancel()
		l := n.log.WithFields(logrus.Fields{"hook": job.argv[0], "took": time.Since(start).Round(time.Millisecond)})
		if err != nil {
			l.WithError(err).Warn("notify hook failed")
		} else {
			l.Debug("notify hook ran")
		}
	}
}

// runHook runs argv with env added to lvsd's environment.
func runHook(ctx context.Context, argv, env []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 200 {
			out = out[:200]
		}
		return fmt.Errorf("%v: %w: %s", argv, err, out)
	}
	return nil
}
