package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state")
	if err := Write(path, []byte("x"), 0o644, false); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, content := range []string{"one\n", "two\n"} {
		if err := Write(path, []byte(content), 0o640, i == 0); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("after write %d: %q, %v", i, b, err)
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("mode: %v, %v", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}

	// The rename fails (the target is a directory that is not empty): an
	// error, and no temporary file left behind.
	target := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("three\n"), 0o644, true); err == nil {
		t.Fatal("a write over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // sub and busy
		t.Fatalf("left in the directory: %v", entries)
	}
	// A file where the directory should be.
	if err := Write(filepath.Join(path, "below"), nil, 0o644, false); err == nil {
		t.Fatal("a write below a regular file succeeded")
	}
}
