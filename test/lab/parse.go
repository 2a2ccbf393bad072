package lab

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// TestStatus is the outcome of one test.
type TestStatus string

const (
	Pass TestStatus = "pass"
	Fail TestStatus = "fail"
	Skip TestStatus = "skip"
	// Unfinished is a test that started and never reported: the binary
	// crashed, or the VM died or timed out under it.
	Unfinished TestStatus = "unfinished"
)

// TestCase is one test or subtest seen in `go test -v` output.
type TestCase struct {
	Name    string // TestFoo or TestFoo/sub
	Status  TestStatus
	Elapsed time.Duration
}

// PackageResult is one package's tests as the lab saw them.
type PackageResult struct {
	Package string
	Tests   []TestCase // in order of first appearance
	// Passed, Failed and Skipped count leaf tests: a test with subtests
	// counts through its subtests, except a parent that failed (or did not
	// finish) on its own while all its subtests passed, which counts too.
	// Failed also counts package-level problems.
	Passed, Failed, Skipped int
	// Problems are failures not tied to one test: a crash outside any
	// test, a binary that never finished, no test run.
	Problems []string
	Exit     int
	Finished bool
	Elapsed  time.Duration
	// Output is the binary's whole output.
	Output string
}

// OK says whether the package passed.
func (p *PackageResult) OK() bool { return p.Failed == 0 }

// FailedTests names the failed leaf tests (those counted in Failed).
func (p *PackageResult) FailedTests() []string {
	var names []string
	for _, t := range p.counted() {
		if t.Status == Fail || t.Status == Unfinished {
			names = append(names, t.Name)
		}
	}
	return names
}

var (
	runLine    = regexp.MustCompile(`^=== RUN\s+(\S+)`)
	resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)
)

// parseGoTest reads the output of a test binary run with -test.v. It
// accepts the plain form and the test2json-framed one (lines starting with
// ^V). Lines that are not framing are output and ignored.
func parseGoTest(out string) []TestCase {
	var tests []TestCase
	index := map[string]int{}
	get := func(name string) *TestCase {
		i, ok := index[name]
		if !ok {
			i = len(tests)
			index[name] = i
			tests = append(tests, TestCase{Name: name, Status: Unfinished})
		}
		return &tests[i]
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		line = strings.TrimPrefix(line, "\x16")
		if m := runLine.FindStringSubmatch(line); m != nil {
			get(m[1])
			continue
		}
		if m := resultLine.FindStringSubmatch(strings.TrimPrefix(strings.TrimLeft(line, " "), "\x16")); m != nil {
			t := get(m[2])
			switch m[1] {
			case "PASS":
				t.Status = Pass
			case "FAIL":
				t.Status = Fail
			case "SKIP":
				t.Status = Skip
			}
			if d, err := time.ParseDuration(m[3] + "s"); err == nil {
				t.Elapsed = d
			}
		}
	}
	return tests
}

// summarizePackage turns a test binary's output and exit into counts.
// expectTests says that at least one test must have run (not skipped):
// a kernel test package whose tests all skip in the lab proves nothing.
func summarizePackage(pkg, out string, exit int, finished bool, elapsed time.Duration, expectTests bool) PackageResult {
	p := PackageResult{Package: pkg, Tests: parseGoTest(out), Exit: exit, Finished: finished, Elapsed: elapsed, Output: out}
	for _, t := range p.counted() {
		switch t.Status {
		case Pass:
			p.Passed++
		case Skip:
			p.Skipped++
		default:
			p.Failed++
		}
	}
	switch {
	case !finished:
		p.Problems = append(p.Problems, "did not finish (the VM died, hung or timed out under it: see the console output above)")
		if p.Failed == 0 {
			p.Failed++
		}
	case exit != 0 && p.Failed == 0:
		why := "no test failed: a crash outside a test, TestMain, or the binary could not start"
		if strings.Contains(out, "\npanic: ") || strings.HasPrefix(out, "panic: ") {
			why = "panic outside a test"
		}
		p.Problems = append(p.Problems, fmt.Sprintf("exited with status %d (%s)", exit, why))
		p.Failed++
	}
	if expectTests && p.Passed+p.Failed == 0 {
		if p.Skipped > 0 {
			p.Problems = append(p.Problems, fmt.Sprintf("no kernel test ran: all %d skipped (the lab must run them)", p.Skipped))
		} else {
			p.Problems = append(p.Problems, "no kernel test ran")
		}
		p.Failed++
	}
	return p
}

// counted returns the tests that count: leaves, and parents that failed or
// did not finish while none of their subtests did.
func (p *PackageResult) counted() []TestCase {
	bad := func(s TestStatus) bool { return s == Fail || s == Unfinished }
	parent := map[string]bool{}
	badChild := map[string]bool{}
	for _, t := range p.Tests {
		for n := t.Name; ; {
			i := strings.LastIndexByte(n, '/')
			if i < 0 {
				break
			}
			n = n[:i]
			parent[n] = true
			if bad(t.Status) {
				badChild[n] = true
			}
		}
	}
	var out []TestCase
	for _, t := range p.Tests {
		if !parent[t.Name] || (bad(t.Status) && !badChild[t.Name]) {
			out = append(out, t)
		}
	}
	return out
}
