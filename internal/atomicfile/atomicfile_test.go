package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "status")
	if err := Write(path, []byte("x"), 0o644); err == nil {
		t.Fatal("a status file written into a missing directory")
	}
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, content := range []string{"one\n", "two\n"} {
		if err := Write(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("after write %d: %q, %v", i, b, err)
		}
	}
	checkMode(t, path, 0o640)
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}

	// The rename fails (the target is a directory that is not empty): an
	// error, and no temporary file left behind.
	target := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteState(target, []byte("three\n"), 0o600); err == nil {
		t.Fatal("a write over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // sub and busy
		t.Fatalf("left in the directory: %v", entries)
	}
	// A file where the directory should be.
	if err := WriteState(filepath.Join(path, "below"), nil, 0o600); err == nil {
		t.Fatal("a write below a regular file succeeded")
	}
}

func TestWriteState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "lvsd", "state")
	for i, content := range []string{"one\n", "two\n"} {
		if err := WriteState(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("after write %d: %q, %v", i, b, err)
		}
	}
	checkMode(t, path, 0o600)
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("left in the directory: %v", entries)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
	}
}
