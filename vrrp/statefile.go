package vrrp

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lvsd/internal/atomicfile"
)

// StateFile keeps a file that always holds the current state of every
// instance (and sync group) that reports to it, one line each:
//
//	INSTANCE VI_1 MASTER 150 2025-01-01T00:00:00Z
//
// sorted by kind and name. Each update rewrites the file atomically
// (temporary file and rename), so readers never see a partial file.
type StateFile struct {
	path string

	mu      sync.Mutex
	entries map[string]stateLine
}

type stateLine struct {
	kind, name string
	state      string
	prio       uint8
	since      time.Time
}

// NewStateFile returns a writer for path; the directory must exist.
func NewStateFile(path string) *StateFile {
	return &StateFile{path: path, entries: map[string]stateLine{}}
}

// Set records the state of kind ("INSTANCE" or "GROUP") name and rewrites
// the file.
func (f *StateFile) Set(kind, name, state string, prio uint8, since time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries[kind+" "+name] = stateLine{kind: kind, name: name, state: state, prio: prio, since: since}
	return f.write()
}

func (f *StateFile) write() error {
	keys := make([]string, 0, len(f.entries))
	for k := range f.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		e := f.entries[k]
		fmt.Fprintf(&b, "%s %s %s %d %s\n", e.kind, e.name, e.state, e.prio, e.since.UTC().Format(time.RFC3339Nano))
	}
	// A status file for scripts, written on the transition's path: not
	// synced to disk.
	if err := atomicfile.Write(f.path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write state file %s: %w", f.path, err)
	}
	return nil
}
