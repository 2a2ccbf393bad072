package ipvs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/lvsd/lvsd/internal/atomicfile"
)

// The ownership state file is text, one service key per line in
// ServiceKey.String notation, '#' starting a comment:
//
//	# IPVS services owned by lvsd (written by lvsd; do not edit)
//	tcp 10.0.0.1:80
//	fwm 7 inet6

const stateHeader = "# IPVS services owned by lvsd (written by lvsd; do not edit)\n"

// readOwned reads the keys in the state file at path. A missing file is an
// empty list; a line that does not parse is an error naming it.
func readOwned(path string) ([]ServiceKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read IPVS ownership state: %w", err)
	}
	keys, err := parseOwned(b)
	if err != nil {
		return nil, fmt.Errorf("IPVS ownership state %s: %w (remove the file to start over; lvsd then owns only the configured services)", path, err)
	}
	return keys, nil
}

func parseOwned(b []byte) ([]ServiceKey, error) {
	var keys []ServiceKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		k, err := ParseServiceKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return keys, nil
}

// writeOwned replaces the state file atomically: a crash leaves either the
// old list or the new one.
func writeOwned(path string, keys []ServiceKey) error {
	var b bytes.Buffer
	b.WriteString(stateHeader)
	for _, k := range keys {
		b.WriteString(k.String())
		b.WriteByte('\n')
	}
	if err := atomicfile.WriteState(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write IPVS ownership state %s: %w", path, err)
	}
	return nil
}
