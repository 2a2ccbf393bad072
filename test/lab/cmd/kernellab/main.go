// Command kernellab runs lvsd's kernel tests, or any program, against a
// kernel that has IPVS: natively when the host kernel has it, else in a
// QEMU VM (see test/lab/README.md).
//
//	kernellab test [flags] [packages]      every TestKernel* test, one boot
//	kernellab run [flags] -- prog [args]   a Go package, a binary or a guest command
//	kernellab shell [flags]                an interactive shell in the VM
//	kernellab prepare [flags]              fetch the kernel, build the cached initramfs
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/test/lab"
)

// exitLab is the exit status when the lab itself failed (as opposed to the
// program it ran), so scripts can tell the two apart.
const exitLab = 125

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type common struct {
	mode    string
	mem     int
	cpus    int
	timeout time.Duration
	files   listFlag
	bins    listFlag
	modules listFlag
	env     listFlag
	append  string
	quiet   bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.mode, "mode", "", "auto, vm or native (default: $LVSD_LAB_MODE or auto)")
	fs.IntVar(&c.mem, "mem", 0, "guest memory in MiB (default: $LVSD_LAB_MEMORY or 1024)")
	fs.IntVar(&c.cpus, "cpus", 0, "guest vCPUs (default: $LVSD_LAB_CPUS or 1)")
	fs.DurationVar(&c.timeout, "timeout", 0, "bound on the whole run (default: $LVSD_LAB_TIMEOUT or 20m)")
	fs.Var(&c.files, "file", "host `src[:dst]` copied into the guest; a relative dst is under $LVSD_LAB_FILES (/lab/files); repeatable")
	fs.Var(&c.bins, "bin", "host `program` to install in the guest with its libraries; repeatable")
	fs.Var(&c.modules, "module", "extra kernel `module` to load at boot; repeatable")
	fs.Var(&c.env, "env", "`KEY=value` for every step; repeatable")
	fs.StringVar(&c.append, "append", "", "extra kernel command line")
	fs.BoolVar(&c.quiet, "q", false, "do not stream the console (it is still shown on failure)")
}

func (c *common) spec() lab.Spec {
	s := lab.Spec{
		Mode: lab.Mode(c.mode), MemoryMiB: c.mem, CPUs: c.cpus, Timeout: c.timeout,
		Binaries: c.bins, Modules: c.modules, Env: c.env, KernelArgs: strings.Fields(c.append),
		Output: os.Stdout,
	}
	if c.mode == "auto" {
		s.Mode = lab.Auto
	}
	if c.quiet {
		s.Output = nil
	}
	for _, f := range c.files {
		src, dst, ok := strings.Cut(f, ":")
		if !ok {
			dst = filepath.Base(src)
		}
		s.Files = append(s.Files, lab.File{Src: src, Dst: dst})
	}
	return s
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  kernellab test [flags] [packages]      run the TestKernel* tests (default: every package that has some)
  kernellab run [flags] -- prog [args]   run a Go package (./cmd/x), a binary, or a command in the guest
  kernellab shell [flags]                an interactive shell in the VM (exit to power off)
  kernellab prepare [flags]              fetch the kernel and build the cached initramfs, then stop
Run 'kernellab CMD -h' for the flags.
`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var code int
	switch os.Args[1] {
	case "test":
		code = cmdTest(ctx, os.Args[2:])
	case "run":
		code = cmdRun(ctx, os.Args[2:])
	case "shell":
		code = cmdShell(ctx, os.Args[2:])
	case "prepare":
		code = cmdPrepare(ctx, os.Args[2:])
	default:
		usage()
	}
	os.Exit(code)
}

// required says whether a lab that cannot run here is a failure rather
// than a skip: in CI, or when LVSD_LAB_REQUIRE=1.
func required() bool {
	return os.Getenv("LVSD_LAB_REQUIRE") == "1" || os.Getenv("CI") == "true"
}

func cmdTest(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("kernellab test", flag.ExitOnError)
	var c common
	c.register(fs)
	run := fs.String("run", "", "only the TestKernel* tests matching this -run `regexp`")
	var testArgs, testBins listFlag
	fs.Var(&testArgs, "arg", "extra `flag` for every test binary (-arg=-test.short); repeatable")
	fs.Var(&testBins, "testbin", "a prebuilt test `binary` to run too (with -test.v); repeatable")
	_ = fs.Parse(args)

	spec := lab.TestSpec{Packages: fs.Args(), Run: *run, Args: testArgs, Lab: c.spec()}
	for _, b := range testBins {
		re := "^TestKernel"
		if *run != "" {
			re = *run
		}
		spec.Extra = append(spec.Extra, lab.Step{Name: filepath.Base(b), Program: b,
			Args: append([]string{"-test.v", "-test.count=1", "-test.run", re}, testArgs...)})
	}
	if c.quiet {
		spec.Lab.Output = nil
	}
	rep, err := lab.RunTests(ctx, spec)
	if err != nil {
		if errors.Is(err, lab.ErrUnavailable) && !required() {
			fmt.Printf("kernel lab: skipped: %v\n", err)
			return 0
		}
		fmt.Fprintf(os.Stderr, "kernel lab: %v\n", err)
		if rep == nil {
			rep = &lab.TestReport{}
		}
		rep.Failed++
		fmt.Println(rep.Summary())
		return 1
	}
	if c.quiet && !rep.OK() {
		for _, p := range rep.Packages {
			if !p.OK() && p.Output != "" {
				fmt.Printf("--- output of %s:\n%s", p.Package, p.Output)
			}
		}
	}
	fmt.Println()
	rep.WriteDetails(os.Stdout)
	if rep.Run != nil && rep.Run.Mode == lab.VM {
		fmt.Printf("lab: boot %.1fs, whole run %.1fs\n", rep.Run.Boot.Seconds(), rep.Run.Elapsed.Seconds())
	}
	fmt.Println(rep.Summary())
	if !rep.OK() {
		return 1
	}
	return 0
}

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("kernellab run", flag.ExitOnError)
	var c common
	c.register(fs)
	dir := fs.String("dir", "", "working directory in the guest (default /)")
	_ = fs.Parse(args)
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "kernellab run: what to run? kernellab run [flags] -- prog [args]")
		return 2
	}
	spec := c.spec()
	step := lab.Step{Args: rest[1:], Dir: *dir}
	tmp, err := os.MkdirTemp("", "kernellab-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kernellab:", err)
		return exitLab
	}
	defer os.RemoveAll(tmp)
	prog := rest[0]
	switch kind := classify(prog); kind {
	case "package":
		goarch := "amd64"
		if m, err := lab.ChooseMode(spec); err == nil && m == lab.Native {
			goarch = runtime.GOARCH
		}
		bin := filepath.Join(tmp, filepath.Base(strings.TrimSuffix(prog, "/...")))
		if err := lab.BuildProgram(ctx, ".", prog, bin, goarch); err != nil {
			fmt.Fprintln(os.Stderr, "kernellab:", err)
			return exitLab
		}
		step.Program, step.Name = bin, prog
	case "file":
		step.Program = prog
	default: // a command in the guest
		step.Args = rest
	}
	spec.Steps = []lab.Step{step}
	res, err := lab.Run(ctx, spec)
	if err != nil {
		if errors.Is(err, lab.ErrUnavailable) && !required() {
			fmt.Printf("kernel lab: skipped: %v\n", err)
			return 0
		}
		fmt.Fprintf(os.Stderr, "kernel lab: %v\n", err)
		return exitLab
	}
	return res.ExitCode()
}

func cmdShell(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("kernellab shell", flag.ExitOnError)
	var c common
	c.register(fs)
	_ = fs.Parse(args)
	spec := c.spec()
	spec.Mode = lab.VM
	spec.Interactive = true
	if c.timeout == 0 {
		spec.Timeout = 8 * time.Hour
	}
	// cttyhack gives the shell the console as its controlling terminal, so
	// job control and ^C work inside.
	spec.Steps = []lab.Step{{Name: "shell", Args: []string{"setsid", "cttyhack", "bash", "-l"}, Dir: "/root"}}
	fmt.Println("lab: a shell in the VM; `exit` powers it off (QEMU: ^C kills the VM)")
	res, err := lab.Run(ctx, spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kernel lab: %v\n", err)
		return exitLab
	}
	return res.ExitCode()
}

func cmdPrepare(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("kernellab prepare", flag.ExitOnError)
	var c common
	c.register(fs)
	_ = fs.Parse(args)
	spec := c.spec()
	m, err := lab.PrepareVM(ctx, spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kernel lab: %v\n", err)
		return exitLab
	}
	fmt.Printf("kernel:    %s (%s)\nimage:     %s\ninitramfs: %s\n", m.Kernel.Release, m.Kernel.Source, m.Kernel.Image, m.Base)
	if len(m.MissingModules) > 0 {
		fmt.Printf("modules this kernel lacks: %s\n", strings.Join(m.MissingModules, " "))
	}
	for _, n := range m.Notes {
		fmt.Println("note:", n)
	}
	return 0
}

// classify tells a Go package (./x, ../x, or a module path) from a binary
// file and from a command in the guest.
func classify(p string) string {
	if st, err := os.Stat(p); err == nil {
		if st.IsDir() {
			return "package"
		}
		return "file"
	}
	if strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
		return "package"
	}
	if first, _, ok := strings.Cut(p, "/"); ok && strings.Contains(first, ".") {
		return "package"
	}
	return "command"
}
