package vrrp

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readPcap returns the frames of a classic pcap file (microsecond,
// little- or big-endian). Enough for the golden captures; not a general
// reader.
func readPcap(path string) (frames [][]byte, linkType uint32, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < 24 {
		return nil, 0, fmt.Errorf("%s: %d bytes, shorter than a pcap header", path, len(b))
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, 0, fmt.Errorf("%s: not a pcap file (magic %x)", path, b[:4])
	}
	linkType = bo.Uint32(b[20:24])
	b = b[24:]
	for len(b) > 0 {
		if len(b) < 16 {
			return nil, 0, fmt.Errorf("%s: truncated record header", path)
		}
		n := int(bo.Uint32(b[8:12]))
		if n > len(b)-16 {
			return nil, 0, fmt.Errorf("%s: record of %d bytes, %d left", path, n, len(b)-16)
		}
		frames = append(frames, b[16:16+n])
		b = b[16+n:]
	}
	return frames, linkType, nil
}

// goldenFrames maps each golden capture's name ("v2-mcast-advert-prio0")
// to its single Ethernet frame.
func goldenFrames(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := globGolden()
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden captures in testdata/golden: %v", err)
	}
	out := map[string][]byte{}
	for name, p := range paths {
		frames, lt, err := readPcap(p)
		if err != nil {
			t.Fatal(err)
		}
		if lt != 1 || len(frames) != 1 {
			t.Fatalf("%s: link type %d with %d frames, want one Ethernet frame", p, lt, len(frames))
		}
		out[name] = frames[0]
	}
	return out
}

// globGolden maps capture names to their paths.
func globGolden() (map[string]string, error) {
	paths, err := filepath.Glob("testdata/golden/*.pcap")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range paths {
		out[strings.TrimSuffix(filepath.Base(p), ".pcap")] = p
	}
	return out, nil
}
