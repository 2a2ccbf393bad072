package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/director/metrics"
	"github.com/lvsd/lvsd/internal/ratelog"
	"github.com/lvsd/lvsd/ipvs"
)

// DefaultStateFile is where the daemon records the IPVS services it owns
// (systemd's StateDirectory=lvsd makes /var/lib/lvsd).
const DefaultStateFile = "/var/lib/lvsd/ipvs-owned"

// logFlags override the configuration's logging block.
type logFlags struct {
	level  string
	format string
}

func newRunCmd() *cobra.Command {
	var (
		flags     configFlags
		logs      logFlags
		netns     string
		stateFile string
		overrides string
		socket    string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon: program IPVS, health-check the real servers, follow reloads",
		Long: `Run applies the configuration to the kernel's IPVS table (adopting what is
already there, with no write for what is already right), starts the health
checks, and keeps the table equal to the configuration and the checks'
verdicts: a verdict reaches the kernel within milliseconds, and the whole
table is compared with the kernel every ipvs.resync_interval, repairing
changes made behind lvsd's back (logged as drift).

Signals: SIGHUP reloads the configuration (an invalid one is refused with its
errors in the log, and nothing changes; a valid one is applied as a diff).
SIGTERM and SIGINT stop the daemon and leave the IPVS table as it is, so a
restart is hitless, unless ipvs.remove_on_stop is set. Under systemd
(Type=notify) lvsd reports READY=1 after the first sync, RELOADING=1 and
READY=1 around reloads, and STOPPING=1. See docs/daemon.md.

The control API listens on control.socket (default /run/lvsd/lvsd.sock,
mode 0600) for lvsd status, drain, enable, disable, reload and failover; a
second lvsd on the same socket refuses to start. With a metrics block, the
Prometheus metrics are served on metrics.listen. Logs go to standard error,
text or JSON (logging.format, --log-format), with the fields component, vs,
rs, vrid and state; an error that repeats is written once, then counted once
a minute. See docs/operations.md.`,
		Example: `  lvsd run -c /etc/lvsd/lvsd.hcl
  lvsd run -c /etc/lvsd/conf.d/ -var node=lb2 --log-level debug
  lvsd run -c test.hcl --socket /tmp/lvsd-test.sock --state-file "" --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if netns != "" {
				if err := enterNetns(netns); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("overrides-file") {
				overrides = defaultOverridesFile(stateFile)
			}
			return runDaemon(cmd.Context(), &flags, logs, stateFile, overrides, socket, cmd.ErrOrStderr())
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().StringVar(&logs.level, "log-level", "", "log level, overriding the configuration's logging.level: trace, debug, info, warn, error")
	cmd.Flags().StringVar(&logs.format, "log-format", "", "log format, overriding the configuration's logging.format: text or json")
	cmd.Flags().StringVar(&stateFile, "state-file", DefaultStateFile, "`file` recording the IPVS services lvsd owns, so a restarted daemon still removes one that left the configuration meanwhile (\"\": none)")
	cmd.Flags().StringVar(&overrides, "overrides-file", "", "`file` keeping the operators' overrides (lvsd drain/disable) across restarts (default: overrides.json next to --state-file; \"\" with --state-file \"\")")
	cmd.Flags().StringVar(&socket, "socket", "", "the control API's unix `socket`, overriding control.socket in the configuration")
	cmd.Flags().StringVar(&netns, "netns", "", "run inside this network namespace (`path` /run/netns/NAME or /proc/PID/ns/net): its IPVS table, checks and hooks")
	return cmd
}

// daemonBackend is the kernel's IPVS table as the daemon uses it.
type daemonBackend interface {
	ipvs.Backend
	// DumpCounters reads the table with 64-bit counters (status, metrics).
	DumpCounters(ctx context.Context) (ipvs.Table, error)
	Close() error
}

// loadRunConfig reads the configuration as validate does, plus what only the
// running daemon can know: node_name defaults to the host name, for logs,
// hooks (LVSD_NODE), status and metrics.
func loadRunConfig(path string, vars map[string]string) (*director.Config, hcl.Diagnostics) {
	cfg, diags := director.LoadConfig(path, vars)
	if cfg != nil && cfg.NodeName == "" {
		cfg.NodeName = hostName()
	}
	return cfg, diags
}

// hostName is the short host name, as keepalived's router_id defaults to.
func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "lvsd"
	}
	return h
}

// openBackend opens the kernel's table. Tests that run the daemon as a
// process on a host without IPVS replace it (see TestMain).
var openBackend = func() (daemonBackend, error) { return ipvs.New("") }

// defaultOverridesFile keeps the overrides next to the ownership state:
// /var/lib/lvsd/overrides.json by default, none when there is no state file.
func defaultOverridesFile(stateFile string) string {
	if stateFile == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(stateFile), "overrides.json")
}

func runDaemon(ctx context.Context, flags *configFlags, lf logFlags, stateFile, overridesFile, socket string, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	notify := newNotifier()
	vars, err := flags.values(os.Environ())
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	cfg, diags := loadRunConfig(flags.path, vars)
	if diags.HasErrors() {
		if err := director.WriteDiagnostics(stderr, diags, nil, 0, false); err != nil {
			return err
		}
		return &exitError{code: 2, err: fmt.Errorf("%s: invalid configuration (%s)", flags.path, countDiags(diags))}
	}
	log := logrus.New()
	log.SetOutput(stderr)
	if err := configureLogging(log, cfg.Logging, lf); err != nil {
		return &exitError{code: 2, err: err}
	}
	// The daemon's own lines (start, stop, signals, reload plumbing).
	dlog := log.WithField("component", "daemon")
	// Warnings as log lines, so a JSON log stays JSON.
	for _, w := range diags {
		f := logrus.Fields{"summary": w.Summary, "detail": w.Detail}
		if w.Subject != nil {
			f["at"] = w.Subject.String()
		}
		dlog.WithFields(f).Warn("configuration warning")
	}

	// A node that only moves addresses with VRRP needs no IPVS, as
	// keepalived's VRRP-only nodes do not.
	var (
		backend      ipvs.Backend
		dumpCounters func(context.Context) (ipvs.Table, error)
	)
	switch k, err := openBackend(); {
	case err == nil:
		defer k.Close()
		backend, dumpCounters = k, k.DumpCounters
	case !cfg.NeedsIPVS():
		dlog.WithError(err).Warn("running without IPVS: this configuration only needs VRRP; a reload that adds virtual servers will be refused")
	default:
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every goroutine below belongs to ctx; wg waits for them on return.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	goOwned := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	// Repeated errors are counted; their counts are written when their
	// minute is over, and at the latest when lvsd stops.
	goOwned(func() { ratelog.Default.Run(ctx) })

	dlog.WithFields(logrus.Fields{"version": versionNumber(), "config": flags.path, "pid": os.Getpid(), "node": cfg.NodeName}).Info("lvsd starting")
	counters := control.NewCounters(dumpCounters, 0, nil)
	var m *metrics.Metrics
	if cfg.Metrics.Listen.IsValid() {
		m = metrics.New(metrics.Options{Counters: counters, Version: versionNumber()})
	}
	opts := director.Options{
		Config: cfg,
		Load: func() (*director.Config, hcl.Diagnostics) {
			return loadRunConfig(flags.path, vars)
		},
		Backend:       backend,
		StateFile:     stateFile,
		OverridesFile: overridesFile,
		Log:           log,
		Ready: func() {
			if err := notify.send("READY=1", "STATUS=running"); err != nil {
				dlog.WithError(err).Warn("cannot tell systemd lvsd is ready")
			}
		},
	}
	if m != nil {
		opts.Observer = m
	}
	d, err := director.New(opts)
	if err != nil {
		return err
	}

	// Reloads, from SIGHUP or the control API, one at a time.
	var reloadMu sync.Mutex
	running := cfg
	reload := func(ctx context.Context) (director.ReloadResult, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		_ = notify.send("RELOADING=1", "MONOTONIC_USEC="+monotonicUsec(), "STATUS=reloading")
		res, err := d.Reload(ctx)
		if err == nil && res.Config != nil {
			if lerr := configureLogging(log, res.Config.Logging, lf); lerr != nil {
				dlog.WithError(lerr).Warn("logging settings not applied")
			}
			if res.Config.Control != running.Control || res.Config.Metrics != running.Metrics {
				dlog.Warn("the control or metrics settings changed: they take effect when lvsd restarts")
			}
		}
		status := "STATUS=running"
		if err != nil {
			status = "STATUS=running; last reload refused: " + firstLine(err.Error())
		}
		_ = notify.send("READY=1", status)
		return res, err
	}

	// The control API: a socket another lvsd answers on stops this one
	// here, before it touches the kernel.
	if socket == "" {
		socket = cfg.Control.Socket
	}
	api, err := control.Listen(control.Options{
		Director: d, Reload: reload, StepDown: control.StepDownFor(d), Counters: counters,
		Socket: socket, Mode: cfg.Control.Mode, Listen: cfg.Control.Listen,
		Meta: control.Meta{Version: versionNumber(), PID: os.Getpid()},
		Log:  log,
	})
	if err != nil {
		return err
	}
	goOwned(func() { _ = api.Serve(ctx) })
	if m != nil {
		m.Attach(d)
		ms, err := m.Listen(cfg.Metrics.Listen, cfg.Metrics.Path, log)
		if err != nil {
			return err
		}
		goOwned(func() { _ = ms.Serve(ctx) })
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	reloads := make(chan struct{}, 1)
	goOwned(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGHUP {
					select {
					case reloads <- struct{}{}:
					default: // one reload pending already covers this one
					}
					continue
				}
				dlog.WithField("signal", s.String()).Info("stopping")
				_ = notify.send("STOPPING=1")
				cancel()
				return
			}
		}
	})
	goOwned(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reloads:
			}
			_, _ = reload(ctx)
		}
	})

	if err := d.Run(ctx); err != nil {
		_ = notify.send("STOPPING=1")
		return err
	}
	return nil
}

// configureLogging applies the logging block, with the flags winning.
func configureLogging(log *logrus.Logger, l director.Logging, f logFlags) error {
	level, format := l.Level, l.Format
	if f.level != "" {
		level = f.level
	}
	if f.format != "" {
		format = f.format
	}
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("log level %q: want trace, debug, info, warn or error", level)
	}
	switch strings.ToLower(format) {
	case "", "text":
		// The journal stamps every line itself.
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableTimestamp: stderrIsJournal()})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("log format %q: want text or json", format)
	}
	log.SetLevel(lv)
	return nil
}

// stderrIsJournal reports whether standard error is systemd's journal:
// JOURNAL_STREAM names its device and inode (systemd.exec(5)).
func stderrIsJournal() bool {
	dev, ino, ok := strings.Cut(os.Getenv("JOURNAL_STREAM"), ":")
	if !ok {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(2, &st) != nil {
		return false
	}
	return dev == strconv.FormatUint(st.Dev, 10) && ino == strconv.FormatUint(st.Ino, 10)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
