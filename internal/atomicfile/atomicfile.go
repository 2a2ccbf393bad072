// Package atomicfile replaces small files so that a crash leaves either
// the old content or the new one, never a mix: the ownership state, the
// operator overrides and the VRRP state file.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// WriteState replaces a state file the next run depends on: its directory
// is created if missing, the data is synced to disk before the rename and
// the directory after it, so the new content survives a power loss. The
// error does not name path: callers say what the file is.
func WriteState(path string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return write(path, data, perm, true)
}

// Write replaces a status file: its directory must exist (a status file
// in a missing directory is a configuration mistake to report), and
// nothing is synced, so a power loss may leave the old content or an
// empty file.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, data, perm, false)
}

// write goes through a temporary file in the same directory renamed over
// path.
func write(path string, data []byte, perm fs.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if durable {
		// The rename is in the directory: sync it too. A directory that
		// cannot be opened or synced (some filesystems refuse) leaves the
		// file written, as the rename already made it.
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}
