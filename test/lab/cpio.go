package lab

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// cpioWriter writes an initramfs archive in the "newc" format the kernel
// unpacks (see the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst). Parent directories are emitted before their contents
// because the kernel does not create them. Archives written by several
// cpioWriters may be concatenated: the kernel unpacks them in order, later
// entries replacing earlier ones.
type cpioWriter struct {
	w    *bufio.Writer
	n    int64 // bytes written, for padding
	ino  uint32
	dirs map[string]bool
	err  error
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1000, dirs: map[string]bool{"": true, "/": true}}
}

const (
	modeDir     = 0o040000
	modeFile    = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// cleanName turns a guest path into the archive's relative form ("bin/sh").
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (c *cpioWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) header(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32) {
	if size > 0xffffffff {
		c.err = fmt.Errorf("cpio: %s is larger than 4 GiB", name)
		return
	}
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad()
}

// Dir adds directory name (and its parents) with the given permissions.
func (c *cpioWriter) Dir(name string, perm uint32) {
	name = cleanName(name)
	if c.dirs[name] {
		return
	}
	c.parents(name)
	c.dirs[name] = true
	c.header(name, modeDir|perm&0o7777, 0, 0, 0)
}

func (c *cpioWriter) parents(name string) {
	if d := path.Dir(name); d != "." && !c.dirs[d] {
		c.Dir(d, 0o755)
	}
}

// Bytes adds a regular file with the given content.
func (c *cpioWriter) Bytes(name string, perm uint32, data []byte) {
	name = cleanName(name)
	c.parents(name)
	c.header(name, modeFile|perm&0o7777, int64(len(data)), 0, 0)
	c.write(data)
	c.pad()
}

// File adds the host file src (symlinks followed) as name.
func (c *cpioWriter) File(name, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = err
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		c.err = err
		return
	}
	if !st.Mode().IsRegular() {
		c.err = fmt.Errorf("cpio: %s is not a regular file", src)
		return
	}
	name = cleanName(name)
	c.parents(name)
	c.header(name, modeFile|uint32(st.Mode().Perm()), st.Size(), 0, 0)
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, f)
	c.n += n
	if err == nil && n != st.Size() {
		err = fmt.Errorf("cpio: %s changed size while being copied", src)
	}
	if err != nil {
		c.err = err
		return
	}
	c.pad()
}

// Tree adds the host directory src as name, recursively. skip, if not nil,
// is asked about every entry (path relative to src, "/"-separated).
func (c *cpioWriter) Tree(name, src string, skip func(rel string, d fs.DirEntry) bool) {
	if c.err != nil {
		return
	}
	root := os.DirFS(src)
	err := fs.WalkDir(root, ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel != "." && skip != nil && skip(rel, d) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		dst := path.Join(name, rel)
		switch {
		case d.IsDir():
			c.Dir(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path.Join(src, rel))
			if err != nil {
				return err
			}
			c.Symlink(dst, target)
		case d.Type().IsRegular():
			c.File(dst, path.Join(src, rel))
		}
		return c.err
	})
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("cpio: add %s: %w", src, err)
	}
}

// Symlink adds name pointing at target.
func (c *cpioWriter) Symlink(name, target string) {
	name = cleanName(name)
	c.parents(name)
	c.header(name, modeSymlink|0o777, int64(len(target)), 0, 0)
	c.write([]byte(target))
	c.pad()
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) {
	name = cleanName(name)
	c.parents(name)
	c.header(name, modeChar|perm&0o7777, 0, major, minor)
}

// Close writes the trailer and flushes. It returns the first error met.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 0, 0)
	if c.err == nil {
		c.err = c.w.Flush()
	}
	return c.err
}

// sortedKeys returns m's keys in order, so archives are reproducible.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
