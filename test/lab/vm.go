package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is a prepared VM: a kernel and a cached base initramfs. Preparing
// it is the slow part of a first run (download, unpack); later runs find
// everything in the cache.
type Machine struct {
	Kernel *Kernel
	// Base is the cached base initramfs (busybox, modules, host binaries).
	Base string
	// MissingModules are optional modules the kernel does not have.
	MissingModules []string
	Notes          []string
}

// PrepareVM finds the kernel (host, else Debian's package, downloading it
// once) and builds or reuses the base initramfs for spec.
func PrepareVM(ctx context.Context, spec Spec) (*Machine, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	return prepareVM(ctx, spec)
}

func prepareVM(ctx context.Context, spec Spec) (*Machine, error) {
	logf := func(format string, args ...any) { fmt.Fprintf(spec.Output, format+"\n", args...) }
	if err := os.MkdirAll(spec.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("lab cache %s: %w", spec.CacheDir, err)
	}
	k, ok := hostKernel(spec.CacheDir)
	if !ok || os.Getenv("LVSD_LAB_KERNEL_PACKAGE") != "" || os.Getenv("LVSD_LAB_KERNEL_META") != "" {
		var err error
		if k, err = debianKernel(ctx, spec.CacheDir, logf); err != nil {
			return nil, fmt.Errorf("%w: no kernel with IPVS to boot: %v", ErrUnavailable, err)
		}
	}
	b, err := planBase(ctx, k, spec.Modules, spec.Binaries)
	if err != nil {
		return nil, err
	}
	p, built, err := baseArchive(spec.CacheDir, b)
	if err != nil {
		return nil, err
	}
	if built {
		logf("lab: built the base initramfs %s (%d modules; not in this kernel: %s)", p, len(b.modules), orNone(b.missing))
	}
	return &Machine{Kernel: k, Base: p, MissingModules: b.missing, Notes: b.notes}, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

func runVM(ctx context.Context, spec Spec) (*Result, error) {
	m, err := prepareVM(ctx, spec)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "lvsd-lab-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	initrd := filepath.Join(work, "initrd.cpio")
	if err := writeInitrd(initrd, m.Base, spec, nonce); err != nil {
		return nil, err
	}
	return boot(ctx, spec, m.Kernel, initrd, nonce)
}

// boot runs QEMU on kernel and initrd and follows the console until the
// guest powers off, QEMU dies or ctx ends.
func boot(ctx context.Context, spec Spec, k *Kernel, initrd, nonce string) (*Result, error) {
	res := &Result{Mode: VM, Kernel: k.Release, KernelSource: k.Source}
	for _, s := range spec.Steps {
		res.Steps = append(res.Steps, StepResult{Name: s.Name, Exit: -1})
	}

	args := qemuArgs(spec, k.Image, initrd, nonce)
	cmd := exec.CommandContext(ctx, spec.qemu, args...)
	// Its own process group keeps a terminal's ^C for us (we stop QEMU);
	// Pdeathsig stops it if we are killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: !spec.Interactive, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if spec.Interactive {
		cmd.Stdin = os.Stdin
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(spec.Output, "lab: booting %s (%s) under QEMU TCG, %d MiB, %d vCPU\n", k.Release, k.Source, spec.MemoryMiB, spec.CPUs)
	start := timeNow()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.qemu, err)
	}
	con := newConsole(nonce, res, spec.Output, start)
	con.consume(stdout)
	waitErr := cmd.Wait()
	res.Elapsed = timeNow().Sub(start)
	res.Tail = con.tail.lines()
	if con.result != nil {
		return res, nil
	}
	reason := "the VM stopped without printing it (kernel panic or init died?)"
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		reason = fmt.Sprintf("timed out after %s", spec.Timeout.Round(time.Second))
	case ctx.Err() != nil:
		reason = "interrupted: " + ctx.Err().Error()
	case waitErr != nil:
		reason = fmt.Sprintf("%s: %v", spec.qemu, waitErr)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		reason += "; qemu said: " + lastLines(s, 5)
	}
	if !con.ready {
		reason += "; the guest never became ready"
	}
	return res, &NoResultError{Reason: reason, Tail: res.Tail}
}

func qemuArgs(spec Spec, image, initrd, nonce string) []string {
	accel := "tcg"
	if spec.CPUs > 1 {
		accel = "tcg,thread=multi"
	}
	cmdline := append([]string{
		"console=ttyS0", "quiet", "panic=-1", "mitigations=off",
		"i8042.noaux", "i8042.nokbd", "i8042.nopnp",
		"LVSD_LAB_NONCE=" + nonce,
	}, spec.KernelArgs...)
	return []string{
		"-nodefaults", "-no-user-config",
		"-accel", accel, "-cpu", "max", "-M", "pc",
		"-m", strconv.Itoa(spec.MemoryMiB), "-smp", strconv.Itoa(spec.CPUs),
		"-nographic", "-serial", "stdio", "-no-reboot",
		"-kernel", image, "-initrd", initrd,
		"-append", strings.Join(cmdline, " "),
	}
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeInitrd writes base followed by the run's payload archive.
func writeInitrd(dst, base string, spec Spec, nonce string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	in.Close()
	if err != nil {
		return fmt.Errorf("copy base initramfs: %w", err)
	}
	if err := writePayload(out, spec, nonce); err != nil {
		return fmt.Errorf("write payload initramfs: %w", err)
	}
	return out.Close()
}

// writePayload writes the run's own archive: the steps' programs in
// /lab/bin, the files, and /lab/run, the script /init runs.
func writePayload(w io.Writer, spec Spec, nonce string) error {
	c := newCPIOWriter(w)
	c.Dir(FilesDir, 0o755)
	for _, f := range spec.Files {
		dst := f.Dst
		if !path.IsAbs(dst) {
			dst = path.Join(FilesDir, dst)
		}
		st, err := os.Stat(f.Src)
		if err != nil {
			return fmt.Errorf("lab file: %w", err)
		}
		if st.IsDir() {
			c.Tree(dst, f.Src, f.Skip)
		} else {
			c.File(dst, f.Src)
		}
	}
	var run strings.Builder
	run.WriteString("#!/bin/busybox sh\n# Written by the kernel lab for one run.\nrc=0\n")
	for i, s := range spec.Steps {
		argv := s.Args
		if s.Program != "" {
			guest := fmt.Sprintf("/lab/bin/%d-%s", i, baseName(s.Program))
			c.File(guest, s.Program)
			argv = append([]string{guest}, s.Args...)
		}
		dir := s.Dir
		if dir == "" {
			dir = "/"
		}
		env := append([]string{"LVSD_LAB_FILES=" + FilesDir}, spec.Env...)
		env = append(env, s.Env...)
		fmt.Fprintf(&run, "echo '@@lab %s begin %d'\n", nonce, i)
		fmt.Fprintf(&run, "(cd %s && exec env %s %s) 2>&1\n", shellQuote(dir), shellJoin(env), shellJoin(argv))
		fmt.Fprintf(&run, "r=$?\necho \"@@lab %s end %d $r\"\n", nonce, i)
		run.WriteString("[ \"$rc\" -eq 0 ] && rc=$r\n")
	}
	run.WriteString("exit $rc\n")
	c.Bytes("/lab/run", 0o755, []byte(run.String()))
	return c.Close()
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// console follows the guest's serial output: it forwards lines to the
// user, keeps the last ones for error messages, and reads the markers that
// /init and /lab/run print (ready, begin, end, result) to fill in Result.
type console struct {
	marker string
	res    *Result
	out    io.Writer
	start  time.Time
	now    func() time.Time
	tail   ring
	ready  bool
	result *int
	cur    int // index of the running step, -1 between steps
	begun  time.Time
	bufs   []strings.Builder
}

func newConsole(nonce string, res *Result, out io.Writer, start time.Time) *console {
	return &console{
		marker: "@@lab " + nonce + " ",
		res:    res, out: out, start: start, now: timeNow,
		tail: ring{max: 40}, cur: -1,
		bufs: make([]strings.Builder, len(res.Steps)),
	}
}

// consume reads r to its end.
func (c *console) consume(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.line(line)
		}
		if err != nil {
			break
		}
	}
	c.finish()
}

// escapes are terminal control sequences (SeaBIOS and the kernel clear
// the screen); they are noise in a log.
var escapes = regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|c)`)

func (c *console) line(raw string) {
	s := strings.TrimRight(raw, "\r\n")
	s = strings.ReplaceAll(s, "\r", "")
	s = escapes.ReplaceAllString(s, "")
	if !c.ready {
		// SeaBIOS ends its last line without a newline.
		s = strings.TrimPrefix(s, "Booting from ROM..")
	}
	if i := strings.Index(s, c.marker); i >= 0 {
		if i > 0 { // output without a final newline, then the marker
			c.text(s[:i])
		}
		c.mark(strings.Fields(s[i+len(c.marker):]))
		return
	}
	if c.noise(s) {
		return
	}
	c.text(s)
}

// noise is firmware chatter before the kernel and the power-off message
// after the result.
func (c *console) noise(s string) bool {
	if !c.ready && (strings.HasPrefix(s, "SeaBIOS ") || s == "") {
		return true
	}
	return c.result != nil && strings.HasSuffix(s, "reboot: Power down")
}

func (c *console) text(s string) {
	c.tail.add(s)
	fmt.Fprintln(c.out, s)
	if c.cur >= 0 {
		c.bufs[c.cur].WriteString(s)
		c.bufs[c.cur].WriteByte('\n')
	}
}

func (c *console) mark(f []string) {
	if len(f) == 0 {
		return
	}
	now := c.now()
	num := func(i int) (int, bool) {
		if len(f) <= i {
			return 0, false
		}
		n, err := strconv.Atoi(f[i])
		return n, err == nil
	}
	switch f[0] {
	case "ready":
		c.ready = true
		c.res.Boot = now.Sub(c.start)
		detail := ""
		// The guest's uptime when /init started and when the modules were in.
		if len(f) == 3 {
			t0, err0 := strconv.ParseFloat(f[1], 64)
			t1, err1 := strconv.ParseFloat(f[2], 64)
			if err0 == nil && err1 == nil {
				detail = fmt.Sprintf(" (kernel %.1fs, modules %.1fs)", t0, t1-t0)
			}
		}
		fmt.Fprintf(c.out, "lab: %s booted in %.1fs%s\n", c.res.Kernel, c.res.Boot.Seconds(), detail)
	case "begin":
		i, ok := num(1)
		if !ok || i < 0 || i >= len(c.res.Steps) {
			return
		}
		c.cur, c.begun = i, now
		c.res.Steps[i].Started = true
		fmt.Fprintf(c.out, "lab: === %s\n", c.res.Steps[i].Name)
	case "end":
		i, ok := num(1)
		rc, ok2 := num(2)
		if !ok || !ok2 || i < 0 || i >= len(c.res.Steps) {
			return
		}
		st := &c.res.Steps[i]
		st.Finished, st.Exit, st.Elapsed = true, rc, now.Sub(c.begun)
		st.Output = c.bufs[i].String()
		c.cur = -1
		fmt.Fprintf(c.out, "lab: === %s: exit %d (%.1fs)\n", st.Name, rc, st.Elapsed.Seconds())
	case "result":
		rc, ok := num(1)
		if ok {
			c.result = &rc
		}
	}
}

// finish records the output of a step that never ended.
func (c *console) finish() {
	if c.cur >= 0 {
		c.res.Steps[c.cur].Output = c.bufs[c.cur].String()
		c.res.Steps[c.cur].Elapsed = c.now().Sub(c.begun)
	}
}

// ring keeps the last max lines.
type ring struct {
	max int
	buf []string
}

func (r *ring) add(s string) {
	r.buf = append(r.buf, s)
	if len(r.buf) > 2*r.max {
		r.buf = append(r.buf[:0], r.buf[len(r.buf)-r.max:]...)
	}
}

func (r *ring) lines() []string {
	if len(r.buf) > r.max {
		return append([]string(nil), r.buf[len(r.buf)-r.max:]...)
	}
	return append([]string(nil), r.buf...)
}

// limitedWriter keeps at most n bytes.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}
