package kaconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// FileSystem is where the reader finds the main file and the files it
// includes. Names are slash- or OS-separated paths as written in the
// configuration, joined with the including file's directory when relative.
type FileSystem interface {
	// ReadFile returns a file's contents. A directory or an executable file
	// is an error wrapping ErrNotConfigFile (keepalived skips both).
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern in lexical order, as
	// filepath.Glob; a pattern without meta characters matches the file
	// if it exists.
	Glob(pattern string) ([]string, error)
}

// ErrNotConfigFile is wrapped by FileSystem.ReadFile for a directory or an
// executable file, which keepalived refuses to read as configuration.
var ErrNotConfigFile = errors.New("not a regular non-executable file")

// MaxFileSize bounds one configuration file; keepalived configurations are
// small, and the bound keeps a wrong glob from reading a disk image.
const MaxFileSize = 16 << 20

// OSFS reads the local file system.
type OSFS struct{}

// ReadFile implements FileSystem.
func (OSFS) ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 != 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNotConfigFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxFileSize)
	}
	return b, nil
}

// Glob implements FileSystem.
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// MapFS is an in-memory FileSystem for tests and fuzzing: file names
// (slash-separated, as written) to contents.
type MapFS map[string]string

// ReadFile implements FileSystem.
func (m MapFS) ReadFile(name string) ([]byte, error) {
	name = path.Clean(filepath.ToSlash(name))
	if s, ok := m[name]; ok {
		return []byte(s), nil
	}
	for k := range m {
		if strings.HasPrefix(k, name+"/") {
			return nil, fmt.Errorf("%s: %w", name, ErrNotConfigFile)
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Glob implements FileSystem.
func (m MapFS) Glob(pattern string) ([]string, error) {
	pattern = path.Clean(filepath.ToSlash(pattern))
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for k := range m {
		if ok, _ := path.Match(pattern, k); ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

// DirFS reads the local file system with relative names taken from dir:
// positions and comments then show the names as written in the
// configuration ("conf.d/web.conf:12") wherever the files are. ${_PWD}
// and relative paths inside the configuration (SSL certificate and key)
// still resolve against the process's working directory.
type DirFS string

// ReadFile implements FileSystem.
func (d DirFS) ReadFile(name string) ([]byte, error) {
	return OSFS{}.ReadFile(d.join(name))
}

// Glob implements FileSystem.
func (d DirFS) Glob(pattern string) ([]string, error) {
	m, err := filepath.Glob(d.join(pattern))
	if err != nil || filepath.IsAbs(pattern) {
		return m, err
	}
	for i := range m {
		if r, err := filepath.Rel(string(d), m[i]); err == nil {
			m[i] = r
		}
	}
	return m, nil
}

func (d DirFS) join(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(string(d), name)
}
