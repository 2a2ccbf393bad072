package lab

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummarizePackage(t *testing.T) {
	tests := []struct {
		name     string
		out      string
		exit     int
		finished bool
		expect   bool
		passed   int
		failed   int
		skipped  int
		failures []string
		problem  string // a substring of Problems, "" for none
	}{
		{
			name: "pass",
			out: `=== RUN   TestKernelA
--- PASS: TestKernelA (0.12s)
=== RUN   TestKernelB
    b_test.go:10: some log line
--- PASS: TestKernelB (1.50s)
PASS
`,
			finished: true, expect: true, passed: 2,
		},
		{
			name: "fail",
			out: `=== RUN   TestKernelA
    a_test.go:20: add service: file exists
--- FAIL: TestKernelA (0.01s)
=== RUN   TestKernelB
--- PASS: TestKernelB (0.00s)
FAIL
`,
			exit: 1, finished: true, expect: true, passed: 1, failed: 1, failures: []string{"TestKernelA"},
		},
		{
			name: "subtests count as leaves; a failed subtest fails once",
			out: `=== RUN   TestKernelSched
=== RUN   TestKernelSched/rr
=== RUN   TestKernelSched/wrr
=== RUN   TestKernelSched/twos
    sched_test.go:9: kernel 6.1 has no twos
=== RUN   TestKernelSched/mh
    sched_test.go:30: dump differs
--- FAIL: TestKernelSched (0.30s)
    --- PASS: TestKernelSched/rr (0.10s)
    --- PASS: TestKernelSched/wrr (0.10s)
    --- SKIP: TestKernelSched/twos (0.00s)
    --- FAIL: TestKernelSched/mh (0.10s)
FAIL
`,
			exit: 1, finished: true, expect: true, passed: 2, failed: 1, skipped: 1, failures: []string{"TestKernelSched/mh"},
		},
		{
			name: "parent fails on its own after its subtests passed",
			out: `=== RUN   TestKernelP
=== RUN   TestKernelP/a
    p_test.go:5: cleanup failed
--- FAIL: TestKernelP (0.20s)
    --- PASS: TestKernelP/a (0.10s)
FAIL
`,
			exit: 1, finished: true, expect: true, passed: 1, failed: 1, failures: []string{"TestKernelP"},
		},
		{
			name: "panic in a test",
			out: `=== RUN   TestKernelA
--- PASS: TestKernelA (0.00s)
=== RUN   TestKernelB
--- FAIL: TestKernelB (0.00s)
panic: runtime error: index out of range [3] with length 3 [recovered]
	panic: runtime error: index out of range [3] with length 3

goroutine 7 [running]:
testing.tRunner.func1.2({0x5a2f80, 0xc0000a2018})
`,
			exit: 2, finished: true, expect: true, passed: 1, failed: 1, failures: []string{"TestKernelB"},
		},
		{
			name: "panic in another goroutine leaves the test unfinished",
			out: `=== RUN   TestKernelA
panic: boom

goroutine 12 [running]:
main.serve()
`,
			exit: 2, finished: true, expect: true, failed: 1, failures: []string{"TestKernelA"},
		},
		{
			name: "crash before any test",
			out: `panic: init failed

goroutine 1 [running]:
`,
			exit: 2, finished: true, expect: true, failed: 1, problem: "panic outside a test",
		},
		{
			name: "missing result: the VM died during a test",
			out: `=== RUN   TestKernelA
--- PASS: TestKernelA (0.00s)
=== RUN   TestKernelB
[   12.345678] Kernel panic - not syncing: Fatal exception
`,
			exit: -1, finished: false, expect: true, passed: 1, failed: 1, failures: []string{"TestKernelB"}, problem: "did not finish",
		},
		{
			name: "timeout: killed before the binary started",
			out:  "", exit: -1, finished: false, expect: true, failed: 1, problem: "did not finish",
		},
		{
			name: "go test's own timeout",
			out: `=== RUN   TestKernelHang
panic: test timed out after 5s
	running tests:
		TestKernelHang (5s)
`,
			exit: 2, finished: true, expect: true, failed: 1, failures: []string{"TestKernelHang"},
		},
		{
			name: "all skipped is a failure in the lab",
			out: `=== RUN   TestKernelA
    a_test.go:3: this kernel has no IPVS (no /proc/net/ip_vs): make test runs it in the kernel lab VM
--- SKIP: TestKernelA (0.00s)
PASS
`,
			finished: true, expect: true, skipped: 1, failed: 1, problem: "all 1 skipped",
		},
		{
			name:     "nothing ran but nothing was expected (a -run filter)",
			out:      "testing: warning: no tests to run\nPASS\n",
			finished: true, expect: false,
		},
		{
			name:     "test2json framing and carriage returns",
			out:      "\x16=== RUN   TestKernelA\r\n\x16--- PASS: TestKernelA (0.30s)\r\n\x16PASS\r\n",
			finished: true, expect: true, passed: 1,
		},
		{
			name: "output that looks like framing but is indented log text still parses as the test's",
			out: `=== RUN   TestKernelA
    a_test.go:7: got --- PASS: TestKernelZ (1.00s)
--- FAIL: TestKernelA (0.00s)
FAIL
`,
			exit: 1, finished: true, expect: true, failed: 1, failures: []string{"TestKernelA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := summarizePackage("example.com/p", tt.out, tt.exit, tt.finished, time.Second, tt.expect)
			if p.Passed != tt.passed || p.Failed != tt.failed || p.Skipped != tt.skipped {
				t.Errorf("passed/failed/skipped = %d/%d/%d, want %d/%d/%d (tests %+v, problems %q)",
					p.Passed, p.Failed, p.Skipped, tt.passed, tt.failed, tt.skipped, p.Tests, p.Problems)
			}
			if got := p.FailedTests(); !reflect.DeepEqual(got, tt.failures) {
				t.Errorf("failed tests = %q, want %q", got, tt.failures)
			}
			joined := strings.Join(p.Problems, "\n")
			if tt.problem == "" && joined != "" {
				t.Errorf("unexpected problems %q", joined)
			}
			if tt.problem != "" && !strings.Contains(joined, tt.problem) {
				t.Errorf("problems %q do not mention %q", joined, tt.problem)
			}
			if p.OK() != (tt.failed == 0) {
				t.Errorf("OK() = %v with %d failed", p.OK(), p.Failed)
			}
		})
	}
}

func TestParseGoTestElapsed(t *testing.T) {
	got := parseGoTest("=== RUN   TestKernelA\n--- PASS: TestKernelA (1.25s)\n")
	want := []TestCase{{Name: "TestKernelA", Status: Pass, Elapsed: 1250 * time.Millisecond}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestCombineRun(t *testing.T) {
	for in, want := range map[string]string{
		"Sched":              "^TestKernel.*(?:Sched)",
		"Sched/rr":           "^TestKernel.*(?:Sched)/rr",
		"^TestKernelFoo$":    "^TestKernelFoo$",
		"TestKernelFoo":      "^TestKernelFoo",
		"Foo$":               "^TestKernel.*(?:Foo$)",
		"A|B":                "^TestKernel.*(?:A|B)",
		"^TestKernelX/sub/1": "^TestKernelX/sub/1",
	} {
		if got := combineRun(in); got != want {
			t.Errorf("combineRun(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportSummary(t *testing.T) {
	r := &TestReport{Mode: VM, Kernel: "6.1.0-56-amd64", Packages: []PackageResult{
		{Passed: 40, Skipped: 1}, {Passed: 2, Failed: 1},
	}}
	r.total()
	if got, want := r.Summary(), "kernel lab: 6.1.0-56-amd64 (vm): 42 passed, 1 failed, 1 skipped"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if r.OK() {
		t.Error("OK() with a failure")
	}
	r = &TestReport{Mode: Native, Kernel: "6.8.0", Packages: []PackageResult{{Passed: 3}}}
	r.total()
	if got, want := r.Summary(), "kernel lab: 6.8.0 (native): 3 passed, 0 failed"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if !r.OK() {
		t.Error("not OK() with 3 passed")
	}
	if (&TestReport{Mode: VM, Kernel: "k"}).OK() {
		t.Error("OK() with no test run")
	}
}

func FuzzParseGoTest(f *testing.F) {
	f.Add("=== RUN   TestKernelA\n--- PASS: TestKernelA (0.00s)\n")
	f.Add("=== RUN   TestA/b/c\n    --- FAIL: TestA/b/c (1.5s)\npanic: x\n")
	f.Add("\x16--- SKIP: T (0.00s)\r\n")
	f.Fuzz(func(t *testing.T, out string) {
		p := summarizePackage("p", out, 1, true, 0, true)
		if p.Failed < 1 {
			t.Fatalf("exit status 1 but %d failed", p.Failed)
		}
		if p.Passed+p.Skipped+len(p.FailedTests()) > len(p.Tests) {
			t.Fatalf("counted more tests than seen: %+v", p)
		}
	})
}
