package lab

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A test package declares the programs its kernel tests run with
// //lab:program lines; FindKernelTests reports them.
func TestFindKernelTestsPrograms(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list (make test runs it)")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":           "module example.com/m\n\ngo 1.22\n",
		"cmd/tool/main.go": "package main\n\nfunc main() {}\n",
		"a/a.go":           "package a\n",
		"a/a_test.go":      "package a\n\nimport \"testing\"\n\n//lab:program ./cmd/tool\n//lab:program   ./cmd/other  \n\nfunc TestKernelA(t *testing.T) {}\n",
		"b/b.go":           "package b\n",
		"b/b_test.go":      "package b\n\nimport \"testing\"\n\n// not a directive: //lab:program ./x\nfunc TestKernelB(t *testing.T) {}\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, _, err := FindKernelTests(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, p := range pkgs {
		got[p.Rel] = p.Programs
	}
	if len(got) != 2 || !slices.Equal(got["a"], []string{"./cmd/tool", "./cmd/other"}) || len(got["b"]) != 0 {
		t.Fatalf("programs: %v", got)
	}
	t.Setenv("LVSD_LAB_FILES", dir)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "tool"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if p := ProgramPath("tool"); p != filepath.Join(dir, "bin", "tool") {
		t.Fatalf("ProgramPath(tool) = %q", p)
	}
	if p := ProgramPath("other"); p != "" {
		t.Fatalf("ProgramPath(other) = %q, want none", p)
	}
}
