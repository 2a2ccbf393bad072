package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runNative runs the steps on the host, whose kernel has IPVS. Each step
// runs in its own process group, killed when the run times out.
func runNative(ctx context.Context, spec Spec) (*Result, error) {
	res := &Result{Mode: Native, Kernel: uname(), KernelSource: "the host's running kernel"}
	files, err := os.MkdirTemp("", "lvsd-lab-files-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(files)
	for _, f := range spec.Files {
		if filepath.IsAbs(f.Dst) {
			return nil, fmt.Errorf("lab file %s -> %s: an absolute destination needs the VM (LVSD_LAB_MODE=vm)", f.Src, f.Dst)
		}
		if err := copyTree(f.Src, filepath.Join(files, f.Dst), f.Skip); err != nil {
			return nil, fmt.Errorf("lab file %s: %w", f.Src, err)
		}
	}
	fmt.Fprintf(spec.Output, "lab: running natively on %s (the host kernel has IPVS)\n", res.Kernel)
	start := timeNow()
	var tail ring
	tail.max = 40
	for _, s := range spec.Steps {
		sr := StepResult{Name: s.Name, Exit: -1, Started: true}
		fmt.Fprintf(spec.Output, "lab: === %s\n", s.Name)
		argv := s.Args
		if s.Program != "" {
			argv = append([]string{s.Program}, s.Args...)
		}
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = s.HostDir
		cmd.Env = append(append(append(os.Environ(), "LVSD_LAB_FILES="+files), spec.Env...), s.Env...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		lw := &lineWriter{out: spec.Output, tail: &tail}
		cmd.Stdout, cmd.Stderr = lw, lw
		t0 := timeNow()
		err := cmd.Run()
		lw.flush()
		sr.Elapsed = timeNow().Sub(t0)
		sr.Output = lw.buf.String()
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil:
			res.Steps = append(res.Steps, sr)
			res.Elapsed, res.Tail = timeNow().Sub(start), tail.lines()
			return res, &NoResultError{Reason: fmt.Sprintf("step %s: %v (timeout %s)", s.Name, ctx.Err(), spec.Timeout), Tail: res.Tail}
		case err == nil:
			sr.Finished, sr.Exit = true, 0
		case errors.As(err, &ee):
			sr.Finished, sr.Exit = true, ee.ExitCode()
			if sr.Exit < 0 { // killed by a signal
				sr.Exit = 128 + int(ee.Sys().(syscall.WaitStatus).Signal())
			}
		default:
			sr.Finished, sr.Exit = true, 127
			fmt.Fprintf(lw, "lab: %v\n", err)
			lw.flush()
			sr.Output = lw.buf.String()
		}
		fmt.Fprintf(spec.Output, "lab: === %s: exit %d (%.1fs)\n", s.Name, sr.Exit, sr.Elapsed.Seconds())
		res.Steps = append(res.Steps, sr)
	}
	res.Elapsed, res.Tail = timeNow().Sub(start), tail.lines()
	return res, nil
}

// lineWriter forwards whole lines to out and keeps all of them.
type lineWriter struct {
	mu      sync.Mutex
	out     io.Writer
	tail    *ring
	partial []byte
	buf     strings.Builder
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineWriter) emit(s string) {
	fmt.Fprintln(l.out, s)
	l.tail.add(s)
	l.buf.WriteString(s)
	l.buf.WriteByte('\n')
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) > 0 {
		l.emit(string(l.partial))
		l.partial = nil
	}
}

// copyTree copies a file or a directory (recursively) to dst.
func copyTree(src, dst string, skip func(string, os.DirEntry) bool) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return copyFile(src, dst, st.Mode().Perm())
	}
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel), d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
