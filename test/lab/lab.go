// Package lab is the kernel lab: it runs programs and Go test binaries
// against a Linux kernel that has IPVS. When the host kernel has IPVS (and
// we are root) they run natively; otherwise the lab boots a small QEMU VM
// (software emulation) on a stock kernel: the host's own if it has the
// modules, else Debian's kernel package, downloaded once into a cache. The
// VM's initramfs holds busybox, the IPVS and networking modules, iproute2,
// ipvsadm and keepalived with their libraries, and the payload. Everything
// runs in one boot; the guest's console streams live and each step's exit
// code comes back.
//
// Run is the general entry (programs, scenarios, benchmarks); RunTests
// builds the TestKernel* tests of Go packages and reports them. The
// command ./test/lab/cmd/kernellab wraps both. This package knows nothing
// about lvsd itself.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode says where the payload runs.
type Mode string

const (
	// Auto picks Native when the host kernel has IPVS and we are root,
	// else VM. LVSD_LAB_MODE (auto, vm, native) overrides it.
	Auto Mode = ""
	// VM boots QEMU.
	VM Mode = "vm"
	// Native runs on the host.
	Native Mode = "native"
)

// Spec says what to run and how.
type Spec struct {
	// Steps run one after another in one boot (natively: one after another
	// on the host). All run even when one fails.
	Steps []Step
	// Files are copied into the guest before the steps run.
	Files []File
	// Binaries are extra host programs (names looked up in PATH and the
	// sbin directories, or absolute paths) installed in the guest with
	// their shared libraries, besides DefaultBinaries.
	Binaries []string
	// Modules are extra kernel modules loaded at boot (with their
	// dependencies), besides DefaultModules.
	Modules []string
	// Env is added to every step's environment (KEY=value).
	Env []string
	// KernelArgs are added to the kernel command line.
	KernelArgs []string

	Mode Mode
	// MemoryMiB is the guest's memory; 0 means LVSD_LAB_MEMORY or 1024.
	MemoryMiB int
	// CPUs is the guest's vCPU count; 0 means LVSD_LAB_CPUS or 1.
	CPUs int
	// Timeout bounds the whole run, boot included; 0 means
	// LVSD_LAB_TIMEOUT or 20 minutes. When it expires the VM (or the
	// native process group) is killed.
	Timeout time.Duration
	// CacheDir holds the kernel and the cached initramfs; "" means
	// LVSD_LAB_CACHE or .cache/lab in the Go module around the working
	// directory.
	CacheDir string
	// Output receives the guest's console (natively: the steps' output)
	// live, and the lab's progress lines ("lab: ..."). nil discards.
	Output io.Writer
	// Interactive connects the terminal to the guest's console (for a
	// shell); the result markers still work.
	Interactive bool

	qemu string // the QEMU binary; tests substitute a fake
}

// Step is one program run in the guest.
type Step struct {
	// Name labels the step in the output and in Result; "" means the
	// program's base name.
	Name string
	// Program is a host executable, copied into the guest and run. When
	// empty, Args[0] is a command already in the guest (found in its PATH:
	// /usr/sbin/ip, /usr/sbin/ipvsadm, /bin/sh, ...).
	Program string
	Args    []string
	// Dir is the working directory in the guest ("" = /).
	Dir string
	// HostDir is the working directory when running natively ("" = the
	// current one).
	HostDir string
	// Env is added to the step's environment (KEY=value).
	Env []string
}

// File is a host file or directory copied into the guest.
type File struct {
	// Src is a host file or a directory (copied recursively).
	Src string
	// Dst is where it goes. A relative Dst is under the files directory,
	// whose path every step gets in LVSD_LAB_FILES (/lab/files in the
	// guest, a temporary directory natively). An absolute Dst is a path in
	// the guest (VM only).
	Dst string
	// Skip, if set, leaves out entries of a directory Src (rel is relative
	// to Src, slash-separated).
	Skip func(rel string, d fs.DirEntry) bool
}

// FilesDir is the guest directory for Files with a relative Dst.
const FilesDir = "/lab/files"

// Result is what came back from a run.
type Result struct {
	Mode Mode
	// Kernel is the release the steps ran on (uname -r).
	Kernel string
	// KernelSource says where that kernel came from.
	KernelSource string
	Steps        []StepResult
	// Boot is the time from starting QEMU to the payload starting (VM).
	Boot time.Duration
	// Elapsed is the time of the whole run, build of the initramfs
	// excluded.
	Elapsed time.Duration
	// Tail holds the last console lines, for failure messages.
	Tail []string
}

// StepResult is one step's outcome.
type StepResult struct {
	Name string
	// Started and Finished say whether the step's begin and end were seen.
	Started, Finished bool
	// Exit is the exit status (-1 unless Finished).
	Exit    int
	Output  string
	Elapsed time.Duration
}

// ExitCode is the run's exit status: the first non-zero step status, or 1
// if a step did not finish, else 0.
func (r *Result) ExitCode() int {
	for _, s := range r.Steps {
		if !s.Finished {
			return 1
		}
		if s.Exit != 0 {
			return s.Exit
		}
	}
	return 0
}

// ErrUnavailable is returned (wrapped) when neither a native run nor a VM
// is possible here; callers may skip with its message.
var ErrUnavailable = errors.New("kernel lab unavailable")

// NoResultError reports a run that ended without the guest's result line:
// a hang, a kernel panic, QEMU dying, or the timeout.
type NoResultError struct {
	Reason string
	Tail   []string
}

func (e *NoResultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no result from the lab VM: %s", e.Reason)
	if len(e.Tail) > 0 {
		b.WriteString("; last console lines:\n")
		for _, l := range e.Tail {
			b.WriteString("    " + l + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

var timeNow = time.Now

// Run runs spec's steps against a kernel with IPVS and returns their
// outcome. It returns an error when the steps could not run or did not all
// report (the partial Result then says how far they got); a step that ran
// and failed is not an error: see Result.ExitCode.
func Run(ctx context.Context, spec Spec) (*Result, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	for i, s := range spec.Steps {
		if s.Program == "" && len(s.Args) == 0 {
			return nil, fmt.Errorf("lab step %d (%s): no program and no command", i, s.Name)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	mode, err := chooseMode(spec)
	if err != nil {
		return nil, err
	}
	if mode == Native {
		return runNative(ctx, spec)
	}
	return runVM(ctx, spec)
}

func (s Spec) withDefaults() (Spec, error) {
	var err error
	if s.Mode == Auto {
		s.Mode = Mode(os.Getenv("LVSD_LAB_MODE"))
		if s.Mode == "auto" {
			s.Mode = Auto
		}
	}
	switch s.Mode {
	case Auto, VM, Native:
	default:
		return s, fmt.Errorf("lab mode %q: want auto, vm or native", s.Mode)
	}
	if s.MemoryMiB == 0 {
		if s.MemoryMiB, err = envInt("LVSD_LAB_MEMORY", 1024); err != nil {
			return s, err
		}
	}
	if s.CPUs == 0 {
		if s.CPUs, err = envInt("LVSD_LAB_CPUS", 1); err != nil {
			return s, err
		}
	}
	if s.Timeout == 0 {
		s.Timeout = 20 * time.Minute
		if v := os.Getenv("LVSD_LAB_TIMEOUT"); v != "" {
			if s.Timeout, err = time.ParseDuration(v); err != nil {
				return s, fmt.Errorf("LVSD_LAB_TIMEOUT=%q: %w", v, err)
			}
		}
	}
	if s.CacheDir == "" {
		if s.CacheDir, err = DefaultCacheDir(); err != nil {
			return s, err
		}
	}
	if s.Output == nil {
		s.Output = io.Discard
	}
	if s.qemu == "" {
		s.qemu = os.Getenv("LVSD_LAB_QEMU")
		if s.qemu == "" {
			s.qemu = "qemu-system-x86_64"
		}
	}
	if v := os.Getenv("LVSD_LAB_APPEND"); v != "" {
		s.KernelArgs = append(s.KernelArgs, strings.Fields(v)...)
	}
	for i := range s.Steps {
		if s.Steps[i].Name == "" {
			p := s.Steps[i].Program
			if p == "" && len(s.Steps[i].Args) > 0 {
				p = s.Steps[i].Args[0]
			}
			s.Steps[i].Name = baseName(p)
		}
	}
	return s, nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive number", name, v)
	}
	return n, nil
}

// DefaultCacheDir is LVSD_LAB_CACHE, else .cache/lab at the root of the Go
// module around the working directory, else in the user's cache directory.
func DefaultCacheDir() (string, error) {
	if v := os.Getenv("LVSD_LAB_CACHE"); v != "" {
		return v, nil
	}
	if root, err := moduleRoot("."); err == nil {
		return root + "/.cache/lab", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lab cache: set LVSD_LAB_CACHE: %w", err)
	}
	return d + "/lvsd-lab", nil
}

// ChooseMode says where a run with spec would go (Native or VM), or why it
// cannot run here (an error wrapping ErrUnavailable).
func ChooseMode(spec Spec) (Mode, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return "", err
	}
	return chooseMode(spec)
}

func chooseMode(spec Spec) (Mode, error) {
	switch spec.Mode {
	case Native:
		if !HostHasIPVS() {
			return "", fmt.Errorf("%w: native mode asked for, but this kernel has no IPVS", ErrUnavailable)
		}
		return Native, nil
	case VM:
		return VM, qemuAvailable(spec)
	}
	if os.Geteuid() == 0 && HostHasIPVS() {
		return Native, nil
	}
	return VM, qemuAvailable(spec)
}

func qemuAvailable(spec Spec) error {
	if _, err := lookHost(spec.qemu); err != nil {
		return fmt.Errorf("%w: this kernel has no IPVS and %s is missing (Debian package qemu-system-x86; make deps installs it): %v", ErrUnavailable, spec.qemu, err)
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
