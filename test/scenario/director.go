package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LogLine is one JSON log line of lvsd.
type LogLine map[string]any

// Msg is the line's message.
func (l LogLine) Msg() string { s, _ := l["msg"].(string); return s }

// Str is a field as text ("" when absent).
func (l LogLine) Str(k string) string {
	v, ok := l[k]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// At is when the lab read the line (lvsd's own timestamps are whole
// seconds).
func (l LogLine) At() time.Time { t, _ := l["_at"].(time.Time); return t }

// Num is a numeric field (0 when absent).
func (l LogLine) Num(k string) float64 { f, _ := l[k].(float64); return f }

// Director is lvsd running on a director node: `lvsd run --netns`, its
// JSON log kept in memory (and copied to a file), restartable, signalled
// like systemd would.
type Director struct {
	Name string
	Node *Node
	// Bin is the lvsd binary, Config its configuration; Vars are -var
	// values (node=lb1 is added).
	Bin    string
	Config string
	Vars   []string
	// Dir holds the director's state file, VRRP state file, log and
	// control socket.
	Dir string
	// OnLine, if set, sees every log line as it arrives.
	OnLine func(d *Director, l LogLine)

	mu      sync.Mutex
	cmd     *exec.Cmd
	runs    int
	lines   []LogLine
	wake    chan struct{}
	exited  chan struct{}
	exitErr error
	logFile *os.File
}

// NewDirector prepares lvsd for node; Start runs it.
func NewDirector(node *Node, bin, config, dir string, vars ...string) (*Director, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, "lvsd.log"))
	if err != nil {
		return nil, err
	}
	return &Director{Name: node.Name, Node: node, Bin: bin, Config: config, Vars: vars, Dir: dir,
		wake: make(chan struct{}), logFile: f}, nil
}

// StateFile is where lvsd records the IPVS services it owns.
func (d *Director) StateFile() string { return filepath.Join(d.Dir, "ipvs-owned") }

// VRRPStateFile is the vrrp block's state_file the lab's configuration sets.
func (d *Director) VRRPStateFile() string { return filepath.Join(d.Dir, "vrrp.state") }

// Socket is the control socket the lab's configuration sets.
func (d *Director) Socket() string { return filepath.Join(d.Dir, "lvsd.sock") }

// Start runs lvsd and waits until it has programmed the table (within).
func (d *Director) Start(within time.Duration) error {
	d.mu.Lock()
	if d.cmd != nil {
		select {
		case <-d.exited:
		default:
			d.mu.Unlock()
			return fmt.Errorf("%s: lvsd is already running", d.Name)
		}
	}
	from := len(d.lines)
	args := []string{"run", "-c", d.Config, "--netns", d.Node.Path(), "--state-file", d.StateFile(), "--log-format", "json", "-var", "node=" + d.Name}
	for _, v := range d.Vars {
		args = append(args, "-var", v)
	}
	cmd := exec.Command(d.Bin, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		d.mu.Unlock()
		return err
	}
	cmd.Stdout = d.logFile
	// Its own process group: a SIGKILL of the lab's process must not leave
	// it behind, and ^C in a terminal goes to the lab first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		return fmt.Errorf("%s: start lvsd: %w", d.Name, err)
	}
	d.runs++
	run := d.runs
	d.cmd = cmd
	exited := make(chan struct{})
	d.exited = exited
	d.mu.Unlock()
	fmt.Fprintf(d.logFile, "### lvsd %s run %d: pid %d: %s %s\n", d.Name, run, cmd.Process.Pid, d.Bin, strings.Join(args, " "))

	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			raw := sc.Text()
			fmt.Fprintln(d.logFile, raw)
			var l LogLine
			if json.Unmarshal([]byte(raw), &l) != nil {
				l = LogLine{"msg": raw}
			}
			l["run"] = float64(run)
			l["_at"] = time.Now()
			d.mu.Lock()
			d.lines = append(d.lines, l)
			close(d.wake)
			d.wake = make(chan struct{})
			on := d.OnLine
			d.mu.Unlock()
			if on != nil {
				on(d, l)
			}
		}
		err := cmd.Wait()
		d.mu.Lock()
		d.exitErr = err
		close(exited)
		close(d.wake)
		d.wake = make(chan struct{})
		d.mu.Unlock()
	}()
	_, err = d.WaitLog(from, within, "IPVS table programmed; running")
	return err
}

// Running says whether lvsd runs.
func (d *Director) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Pid is the running lvsd's pid (0 if none).
func (d *Director) Pid() int {
	if !d.Running() {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd.Process.Pid
}

// Signal sends s to lvsd.
func (d *Director) Signal(s syscall.Signal) error {
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	if cmd == nil || !d.Running() {
		return fmt.Errorf("%s: lvsd is not running", d.Name)
	}
	if err := cmd.Process.Signal(s); err != nil {
		return fmt.Errorf("%s: signal %v: %w", d.Name, s, err)
	}
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (d *Director) Kill() error {
	if !d.Running() {
		return nil
	}
	if err := d.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return d.Wait(10 * time.Second)
}

// Stop sends SIGTERM and waits for a clean exit within.
func (d *Director) Stop(within time.Duration) error {
	if !d.Running() {
		return nil
	}
	if err := d.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := d.Wait(within); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.exitErr != nil {
		return fmt.Errorf("%s: lvsd exited after SIGTERM: %w", d.Name, d.exitErr)
	}
	return nil
}

// Wait waits for lvsd to exit.
func (d *Director) Wait(within time.Duration) error {
	d.mu.Lock()
	exited := d.exited
	d.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	case <-time.After(within):
		return fmt.Errorf("%s: lvsd did not exit within %v", d.Name, within)
	}
}

// Close kills lvsd if it runs and closes the log.
func (d *Director) Close() {
	_ = d.Kill()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.logFile != nil {
		d.logFile.Close()
		d.logFile = nil
	}
}

// Mark is the position in the log (across runs): waits look from a mark on.
func (d *Director) Mark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lines)
}

// Lines returns the log lines from mark on.
func (d *Director) Lines(from int) []LogLine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]LogLine(nil), d.lines[from:]...)
}

// Logged returns the lines with message msg from mark on.
func (d *Director) Logged(from int, msg string) []LogLine {
	var out []LogLine
	for _, l := range d.Lines(from) {
		if l.Msg() == msg {
			out = append(out, l)
		}
	}
	return out
}

// ErrExited is returned by waits when lvsd exits first.
var ErrExited = errors.New("lvsd exited")

// WaitLog waits for a line with message msg after mark.
func (d *Director) WaitLog(from int, within time.Duration, msg string) (LogLine, error) {
	return d.WaitLine(from, within, msg, func(l LogLine) bool { return l.Msg() == msg })
}

// WaitLine waits for a line after mark that match accepts; what names it
// in the error.
func (d *Director) WaitLine(from int, within time.Duration, what string, match func(LogLine) bool) (LogLine, error) {
	deadline := time.After(within)
	for {
		d.mu.Lock()
		for _, l := range d.lines[min(from, len(d.lines)):] {
			if match(l) {
				d.mu.Unlock()
				return l, nil
			}
		}
		wake, exited := d.wake, d.exited
		var exitErr error
		if exited != nil {
			select {
			case <-exited:
				exitErr = d.exitErr
			default:
				exited = nil
			}
		}
		d.mu.Unlock()
		if exited != nil {
			return nil, fmt.Errorf("%s: %w (%v) before logging %q", d.Name, ErrExited, exitErr, what)
		}
		select {
		case <-wake:
		case <-deadline:
			return nil, fmt.Errorf("%s: lvsd did not log %q within %v", d.Name, what, within)
		}
	}
}

// Table is `ipvsadm -Ln` on the director.
func (d *Director) Table(ctx context.Context) (string, error) {
	return d.Node.Output(ctx, "ipvsadm", "-Ln")
}

// VRRPState is the instance's state from the VRRP state file ("MASTER",
// "BACKUP", "FAULT", ...), "" when the file does not exist (yet).
func (d *Director) VRRPState(instance string) (string, error) {
	b, err := os.ReadFile(d.VRRPStateFile())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "INSTANCE" && f[1] == instance {
			return f[2], nil
		}
	}
	return "", nil
}

// Status is what `lvsd status` prints for this director, when this build
// of lvsd has it (the control API); otherwise the VRRP state file and
// `ipvsadm -Ln`.
func (d *Director) Status(ctx context.Context) string {
	if d.Running() {
		out, err := exec.CommandContext(ctx, d.Bin, "status", "--socket", d.Socket()).CombinedOutput()
		if err == nil {
			return string(out)
		}
	}
	var b strings.Builder
	st, err := os.ReadFile(d.VRRPStateFile())
	switch {
	case err == nil:
		fmt.Fprintf(&b, "vrrp state file: %s", st)
	case errors.Is(err, os.ErrNotExist):
		b.WriteString("vrrp state file: (none)\n")
	default:
		fmt.Fprintf(&b, "vrrp state file: %v\n", err)
	}
	tbl, err := d.Table(ctx)
	if err != nil {
		fmt.Fprintf(&b, "ipvsadm: %v\n", err)
	} else {
		b.WriteString(tbl)
	}
	return b.String()
}
