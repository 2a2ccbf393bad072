package director

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// The corpus of bad configurations: each file in testdata/bad marks every
// diagnostic it must produce in a comment on the offending line:
//
//	scheduler = "wlcc" # error@15: Did you mean "wlc"?
//
// is an error at that line, column 15, whose summary or detail contains
// the text. Several marks on one line are separated by " | "; a mark with
// column "-" is a diagnostic without a position (anywhere in the file). A
// line "# vars: a=1 b=2" gives variable values. The test fails on a
// missing diagnostic, and on any diagnostic the file does not mark, so
// each file also proves that all its mistakes are reported at once.

var markRE = regexp.MustCompile(`(error|warning)@(\d+|-): ([^|]*[^|\s])`)

type wantDiag struct {
	sev       hcl.DiagnosticSeverity
	line, col int // 0, 0: no position
	text      string
}

func (w wantDiag) String() string {
	sev := "error"
	if w.sev == hcl.DiagWarning {
		sev = "warning"
	}
	if w.line == 0 {
		return fmt.Sprintf("%s@-: %s", sev, w.text)
	}
	return fmt.Sprintf("%s@%d:%d: %s", sev, w.line, w.col, w.text)
}

func parseMarks(t *testing.T, src []byte) ([]wantDiag, map[string]string) {
	t.Helper()
	var wants []wantDiag
	vars := map[string]string{}
	for i, line := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(line, "# vars:"); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				vars[k] = v
			}
			continue
		}
		for _, m := range markRE.FindAllStringSubmatch(line, -1) {
			w := wantDiag{sev: hcl.DiagError, text: strings.TrimSpace(m[3])}
			if m[1] == "warning" {
				w.sev = hcl.DiagWarning
			}
			if m[2] != "-" {
				w.line = i + 1
				w.col, _ = strconv.Atoi(m[2])
			}
			wants = append(wants, w)
		}
	}
	return wants, vars
}

func matches(w wantDiag, d *hcl.Diagnostic) bool {
	if d.Severity != w.sev || !strings.Contains(d.Summary+" "+d.Detail, w.text) {
		return false
	}
	if w.line == 0 {
		return d.Subject == nil
	}
	return d.Subject != nil && d.Subject.Start.Line == w.line && d.Subject.Start.Column == w.col
}

func diagString(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	pos := "-"
	if d.Subject != nil {
		pos = fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column)
	}
	return fmt.Sprintf("%s@%s: %s: %s", sev, pos, d.Summary, d.Detail)
}

func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.hcl")
	if err != nil || len(files) < 20 {
		t.Fatalf("bad corpus: %d files, %v", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wants, vars := parseMarks(t, src)
			if len(wants) == 0 {
				t.Fatal("file marks no diagnostic")
			}
			cfg, diags := LoadConfig(path, vars)
			if diags.HasErrors() != (cfg == nil) {
				t.Errorf("config is nil: %v, errors: %v", cfg == nil, diags.HasErrors())
			}
			used := make([]bool, len(diags))
			for _, w := range wants {
				found := false
				for i, d := range diags {
					if !used[i] && matches(w, d) {
						used[i], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("missing %s", w)
				}
			}
			for i, d := range diags {
				if !used[i] {
					t.Errorf("unexpected %s", diagString(d))
				}
				if d.Subject != nil && d.Subject.Filename != path {
					t.Errorf("diagnostic points into %q, not %q", d.Subject.Filename, path)
				}
			}
		})
	}
}

// TestBadConfigRendering renders a file's diagnostics and checks what a
// user sees: file:line:col, the source line, a caret under the value.
func TestBadConfigRendering(t *testing.T) {
	src := []byte("virtual_server \"web\" {\n  address   = \"192.0.2.1:80\"\n  scheduler = \"wlcc\"\n}\n")
	_, diags := ParseConfig(src, "lvsd.hcl", nil)
	if len(diags.Errs()) != 1 {
		t.Fatalf("want 1 error, got %v", diags)
	}
	got := FormatDiagnostics(diags, map[string][]byte{"lvsd.hcl": src})
	for _, want := range []string{
		"Error: Unknown scheduler",
		"on lvsd.hcl:3:15, in virtual_server \"web\":",
		"   3:   scheduler = \"wlcc\"\n                    ^^^^^^\n",
		"Did you mean \"wlc\"?",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("rendering lacks %q:\n%s", want, got)
		}
	}
	// Without the sources it reads the file; a missing file still renders.
	got = FormatDiagnostics(diags, nil)
	if !strings.Contains(got, "on lvsd.hcl:3:15") || !strings.Contains(got, "(source code not available)") {
		t.Errorf("rendering without source:\n%s", got)
	}
}
