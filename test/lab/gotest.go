package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// TestSpec says which kernel tests to run.
type TestSpec struct {
	// Dir is a directory inside the Go module ("" = the working directory).
	Dir string
	// Packages are package patterns as `go list` takes them ("./ipvs",
	// "./..."). Empty means every package of the module whose test files
	// declare a func TestKernel*.
	Packages []string
	// Run narrows the tests within TestKernel*, in -run syntax
	// ("Scheduler", "Sched/rr").
	Run string
	// Args are extra flags for every test binary ("-test.short").
	Args []string
	// Extra are more steps whose output is read as `go test -v` output:
	// prebuilt test binaries with their own flags.
	Extra []Step
	// Lab is the rest of the run: files, binaries, memory, timeout,
	// output. Its Steps are ignored.
	Lab Spec
}

// TestReport is the outcome of RunTests.
type TestReport struct {
	Mode     Mode
	Kernel   string
	Packages []PackageResult
	// Passed, Failed and Skipped add up the packages.
	Passed, Failed, Skipped int
	// Run is the lab run under the tests (nil if it never started).
	Run *Result
	// Err is why the lab could not report every package (nil if it did).
	Err error
}

// OK says whether every package passed and at least one test ran.
func (r *TestReport) OK() bool {
	return r.Err == nil && r.Failed == 0 && r.Passed > 0
}

// Summary is the one line a reader looks for:
// "kernel lab: 6.1.0-56-amd64 (vm): 42 passed, 0 failed".
func (r *TestReport) Summary() string {
	k := r.Kernel
	if k == "" {
		k = "no kernel"
	}
	mode := r.Mode
	if mode == Auto {
		mode = "not started"
	}
	s := fmt.Sprintf("kernel lab: %s (%s): %d passed, %d failed", k, mode, r.Passed, r.Failed)
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	return s
}

// WriteDetails writes one line per package, like go test, then the
// failures' names and problems.
func (r *TestReport) WriteDetails(w io.Writer) {
	for _, p := range r.Packages {
		status := "ok  "
		if !p.OK() {
			status = "FAIL"
		}
		counts := fmt.Sprintf("%d passed", p.Passed)
		if p.Failed > 0 {
			counts += fmt.Sprintf(", %d failed", p.Failed)
		}
		if p.Skipped > 0 {
			counts += fmt.Sprintf(", %d skipped", p.Skipped)
		}
		fmt.Fprintf(w, "%s\t%s\t%.1fs\t(%s)\n", status, p.Package, p.Elapsed.Seconds(), counts)
		for _, name := range p.FailedTests() {
			fmt.Fprintf(w, "    failed: %s\n", name)
		}
		for _, pr := range p.Problems {
			fmt.Fprintf(w, "    %s\n", pr)
		}
	}
	if r.Err != nil {
		fmt.Fprintf(w, "lab: %v\n", r.Err)
	}
}

// TestPackage is a package with kernel tests.
type TestPackage struct {
	ImportPath string
	Dir        string // on the host
	Rel        string // relative to the module root, "." for the root
	// Programs are Go packages (module-relative, "./cmd/lvsd") the tests
	// run as processes, declared in a test file with a line
	// `//lab:program ./cmd/lvsd`. The lab builds each for the guest and
	// puts it at $LVSD_LAB_FILES/bin/<base name> (see ProgramPath).
	Programs []string
}

// programDirective declares a program the tests need in the lab.
var programDirective = regexp.MustCompile(`(?m)^//lab:program\s+(\S+)\s*$`)

// ProgramPath is where the lab put a program a test package declared with
// `//lab:program`, by its base name ("lvsd"): $LVSD_LAB_FILES/bin/lvsd. It
// is "" outside the lab or when the program is not there.
func ProgramPath(name string) string {
	dir := os.Getenv("LVSD_LAB_FILES")
	if dir == "" {
		return ""
	}
	p := filepath.Join(dir, "bin", name)
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return ""
	}
	return p
}

// kernelTestFunc finds a kernel test declaration in a test file.
var kernelTestFunc = regexp.MustCompile(`(?m)^func TestKernel\w*\(`)

// FindKernelTests lists the packages matching patterns (default ./...)
// under the module containing dir whose test files declare a TestKernel*
// function. With explicit patterns, a matched package without one is an
// error (its binary would run nothing).
func FindKernelTests(ctx context.Context, dir string, patterns []string) ([]TestPackage, string, error) {
	root, err := moduleRoot(dir)
	if err != nil {
		return nil, "", err
	}
	explicit := len(patterns) > 0
	if !explicit {
		patterns = []string{"./..."}
	}
	args := append([]string{"list", "-e", "-json=ImportPath,Dir,TestGoFiles,XTestGoFiles,Error"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("go list %s: %w: %s", strings.Join(patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []TestPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath, Dir           string
			TestGoFiles, XTestGoFiles []string
			Error                     *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil && explicit {
			return nil, "", fmt.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		has := false
		var programs []string
		for _, f := range append(p.TestGoFiles, p.XTestGoFiles...) {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				return nil, "", err
			}
			if kernelTestFunc.Match(b) {
				has = true
			}
			for _, m := range programDirective.FindAllSubmatch(b, -1) {
				programs = append(programs, string(m[1]))
			}
		}
		if !has {
			if explicit {
				return nil, "", fmt.Errorf("package %s has no TestKernel* tests", p.ImportPath)
			}
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, "", fmt.Errorf("package %s is outside the module at %s", p.ImportPath, root)
		}
		pkgs = append(pkgs, TestPackage{ImportPath: p.ImportPath, Dir: p.Dir, Rel: filepath.ToSlash(rel), Programs: programs})
	}
	return pkgs, root, nil
}

// moduleRoot is the directory of the go.mod governing dir.
func moduleRoot(dir string) (string, error) {
	cmd := exec.Command("go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD in %s: %w", dir, err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("%s is not inside a Go module", dir)
	}
	return filepath.Dir(gomod), nil
}

// BuildProgram builds the Go package pkg (a pattern as `go build` takes it,
// relative to dir) into the binary out, statically (CGO_ENABLED=0) for
// linux/goarch ("" = amd64, the VM's), to run in the lab.
func BuildProgram(ctx context.Context, dir, pkg, out, goarch string) error {
	if goarch == "" {
		goarch = "amd64"
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// BuildTests compiles each package's tests into outDir with `go test -c`,
// statically (CGO_ENABLED=0) for the guest's architecture. It returns the
// binary per import path; a package that does not compile gets no binary
// and its error (the compiler's output) in failed.
func BuildTests(ctx context.Context, root, outDir string, pkgs []TestPackage, goarch string) (bins map[string]string, failed map[string]string, err error) {
	bins, failed = map[string]string{}, map[string]string{}
	build := func(out string, paths ...string) (string, error) {
		args := append([]string{"test", "-c", "-o", out, "-ldflags=-s -w"}, paths...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	names := map[string]bool{}
	unique := true
	var paths []string
	for _, p := range pkgs {
		n := baseName(p.ImportPath)
		if names[n] {
			unique = false
		}
		names[n] = true
		paths = append(paths, p.ImportPath)
	}
	// One `go test -c` for all packages links them in parallel; it needs
	// distinct binary names and every package to compile.
	if unique && len(pkgs) > 0 {
		if _, err := build(outDir+string(filepath.Separator), paths...); err == nil {
			for _, p := range pkgs {
				bin := filepath.Join(outDir, baseName(p.ImportPath)+".test")
				if _, err := os.Stat(bin); err != nil {
					return nil, nil, fmt.Errorf("go test -c wrote no %s for %s", bin, p.ImportPath)
				}
				bins[p.ImportPath] = bin
			}
			return bins, failed, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	for i, p := range pkgs {
		bin := filepath.Join(outDir, fmt.Sprintf("%d-%s.test", i, baseName(p.ImportPath)))
		out, err := build(bin, p.ImportPath)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if err != nil {
			failed[p.ImportPath] = strings.TrimSpace(out)
			continue
		}
		bins[p.ImportPath] = bin
	}
	return bins, failed, nil
}

// buildPrograms builds the programs the packages declare (each once) and
// returns them as files for $LVSD_LAB_FILES/bin.
func buildPrograms(ctx context.Context, root, binDir string, pkgs []TestPackage, goarch string) ([]File, error) {
	seen := map[string]string{} // base name -> package
	var files []File
	for _, p := range pkgs {
		for _, prog := range p.Programs {
			base := baseName(strings.TrimSuffix(prog, "/"))
			if other, ok := seen[base]; ok {
				if other != prog {
					return nil, fmt.Errorf("lab programs %s and %s have the same name %s", other, prog, base)
				}
				continue
			}
			seen[base] = prog
			out := filepath.Join(binDir, "programs", base)
			if err := BuildProgram(ctx, root, prog, out, goarch); err != nil {
				return nil, fmt.Errorf("program %s for the tests of %s: %w", prog, p.ImportPath, err)
			}
			files = append(files, File{Src: out, Dst: "bin/" + base})
		}
	}
	return files, nil
}

// sourceSkip leaves out of the guest's copy of the module what tests do
// not read: VCS data, caches, build output, test binaries, big files.
func sourceSkip(rel string, d fs.DirEntry) bool {
	name := d.Name()
	if strings.HasPrefix(name, ".") || name == "node_modules" || (d.IsDir() && rel == "bin") {
		return true
	}
	if d.IsDir() {
		return false
	}
	if strings.HasSuffix(name, ".test") {
		return true
	}
	if info, err := d.Info(); err == nil && info.Size() > 8<<20 {
		return true
	}
	return false
}

// SourceDir is where the module's files are in the guest; each test binary
// runs in its package's directory below it, as under `go test`, so
// testdata and relative paths inside the module work.
const SourceDir = "/src"

// RunTests builds the kernel tests of spec.Packages and runs them all in one
// lab run (one boot), each binary with
// -test.run '^TestKernel' -test.v -test.count=1, then parses their output.
// The error is non-nil when the tests could not be built or run at all; a
// report is returned whenever something ran.
func RunTests(ctx context.Context, spec TestSpec) (*TestReport, error) {
	lspec, err := spec.Lab.withDefaults()
	if err != nil {
		return nil, err
	}
	dir := spec.Dir
	if dir == "" {
		dir = "."
	}
	out := lspec.Output
	pkgs, root, err := FindKernelTests(ctx, dir, spec.Packages)
	if err != nil {
		return nil, err
	}
	if len(pkgs) == 0 && len(spec.Extra) == 0 {
		return nil, fmt.Errorf("no package under %s has TestKernel* tests", root)
	}
	mode, err := chooseMode(lspec)
	if err != nil {
		return &TestReport{}, err
	}
	goarch := "amd64"
	if mode == Native {
		goarch = runtime.GOARCH
	}
	binDir, err := os.MkdirTemp("", "lvsd-lab-tests-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(binDir)
	t0 := timeNow()
	bins, failed, err := BuildTests(ctx, root, binDir, pkgs, goarch)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "lab: built %d test binaries in %.1fs\n", len(bins), timeNow().Sub(t0).Seconds())
	progFiles, err := buildPrograms(ctx, root, binDir, pkgs, goarch)
	if err != nil {
		return nil, err
	}

	run := "^TestKernel"
	if spec.Run != "" {
		run = combineRun(spec.Run)
	}
	// A hung test should print its goroutines before the outer timeout
	// kills the VM; leave time for the boot and the report.
	testTimeout := lspec.Timeout - time.Minute
	if testTimeout < lspec.Timeout/2 {
		testTimeout = lspec.Timeout / 2
	}
	lspec.Steps = nil
	lspec.Mode = mode
	lspec.Files = append(append([]File{}, lspec.Files...), progFiles...)
	if mode == VM {
		lspec.Files = append(append([]File{}, lspec.Files...), File{Src: root, Dst: SourceDir, Skip: sourceSkip})
	}
	type stepInfo struct {
		pkg    string
		expect bool
	}
	var infos []stepInfo
	for _, p := range pkgs {
		bin, ok := bins[p.ImportPath]
		if !ok {
			continue
		}
		args := append([]string{"-test.run", run, "-test.v", "-test.count=1", "-test.timeout", testTimeout.String()}, spec.Args...)
		lspec.Steps = append(lspec.Steps, Step{
			Name: p.ImportPath, Program: bin, Args: args,
			Dir: SourceDir + "/" + p.Rel, HostDir: p.Dir,
		})
		infos = append(infos, stepInfo{p.ImportPath, spec.Run == ""})
	}
	for _, e := range spec.Extra {
		lspec.Steps = append(lspec.Steps, e)
		infos = append(infos, stepInfo{e.Name, false})
	}

	rep := &TestReport{Mode: mode}
	for _, p := range pkgs {
		if msg, ok := failed[p.ImportPath]; ok {
			rep.Packages = append(rep.Packages, PackageResult{
				Package: p.ImportPath, Failed: 1, Exit: -1,
				Problems: []string{"build failed:\n" + indent(msg, "        ")},
			})
		}
	}
	if len(lspec.Steps) > 0 {
		res, err := Run(ctx, lspec)
		rep.Run, rep.Err = res, err
		if res == nil {
			rep.total()
			return rep, err
		}
		rep.Mode, rep.Kernel = res.Mode, res.Kernel
		for i, s := range res.Steps {
			name := infos[i].pkg
			if name == "" {
				name = s.Name
			}
			p := summarizePackage(name, s.Output, s.Exit, s.Finished, s.Elapsed, infos[i].expect)
			if !s.Started {
				p.Problems = []string{"never started: the lab stopped before it"}
			}
			rep.Packages = append(rep.Packages, p)
		}
	}
	rep.total()
	if rep.Passed+rep.Failed == 0 && rep.Err == nil {
		rep.Err = errors.New("no kernel test ran")
	}
	return rep, nil
}

func (r *TestReport) total() {
	r.Passed, r.Failed, r.Skipped = 0, 0, 0
	for _, p := range r.Packages {
		r.Passed += p.Passed
		r.Failed += p.Failed
		r.Skipped += p.Skipped
	}
}

// combineRun restricts a -run pattern to TestKernel* tests: "Sched/rr"
// becomes "^TestKernel.*(?:Sched)/rr".
func combineRun(run string) string {
	top, rest, hasRest := strings.Cut(run, "/")
	if strings.HasPrefix(top, "^TestKernel") {
		return run
	}
	top = strings.TrimPrefix(top, "^")
	if strings.HasPrefix(top, "TestKernel") {
		return "^" + run
	}
	re := "^TestKernel.*(?:" + top + ")"
	if hasRest {
		re += "/" + rest
	}
	return re
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
