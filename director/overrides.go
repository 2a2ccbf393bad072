package director

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/lvsd/lvsd/internal/atomicfile"
)

// The overrides file keeps the operators' overrides (lvsd drain / disable)
// across a restart of the daemon: a server taken out for maintenance must
// not come back into service because lvsd was upgraded or restarted. It is
// JSON, rewritten atomically on every change:
//
//	{
//	  "comment": "operator overrides (written by lvsd; change them with lvsd drain/disable/enable)",
//	  "overrides": [
//	    {"real_server": "web/web2", "override": "drain", "since": "2026-11-22T09:00:00Z"}
//	  ]
//	}
type overridesFile struct {
	Comment   string          `json:"comment"`
	Overrides []overrideEntry `json:"overrides"`
}

type overrideEntry struct {
	RealServer string    `json:"real_server"`
	Override   Override  `json:"override"`
	Since      time.Time `json:"since"`
}

const overridesComment = "operator overrides (written by lvsd; change them with lvsd drain/disable/enable)"

// readOverrides reads the overrides file at path. A missing file is no
// override; one that does not parse, or names an unknown override, is an
// error naming the file.
func readOverrides(path string) (map[string]Override, map[string]time.Time, error) {
	over, since := map[string]Override{}, map[string]time.Time{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return over, since, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the operator overrides: %w", err)
	}
	bad := func(err error) error {
		return fmt.Errorf("operator overrides %s: %w (fix it, or remove it to start with no override)", path, err)
	}
	var f overridesFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, bad(err)
	}
	for i, e := range f.Overrides {
		o, err := ParseOverride(string(e.Override))
		if err != nil {
			return nil, nil, bad(fmt.Errorf("entry %d: %w", i+1, err))
		}
		if e.RealServer == "" || o == OverrideNone {
			return nil, nil, bad(fmt.Errorf("entry %d: want a real_server and an override of drain or disable", i+1))
		}
		over[e.RealServer], since[e.RealServer] = o, e.Since
	}
	return over, since, nil
}

// writeOverrides replaces the overrides file atomically: a crash leaves
// either the old list or the new one.
func writeOverrides(path string, over map[string]Override, since map[string]time.Time) error {
	f := overridesFile{Comment: overridesComment, Overrides: []overrideEntry{}}
	for _, id := range sortedStrings(over) {
		f.Overrides = append(f.Overrides, overrideEntry{RealServer: id, Override: over[id], Since: since[id].UTC()})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := atomicfile.WriteState(path, b, 0o600); err != nil {
		return fmt.Errorf("write the operator overrides %s: %w", path, err)
	}
	return nil
}
