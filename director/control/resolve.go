package control

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/ipvs"
)

// ErrNoRealServer is returned by Resolve for a reference that matches no
// real server.
var ErrNoRealServer = errors.New("no such real server")

// AmbiguousError is returned by Resolve for a reference that matches
// several real servers.
type AmbiguousError struct {
	Ref        string
	Candidates []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%q matches %d real servers (%s): name one as VS/NAME, or apply to all of them with --all", e.Ref, len(e.Candidates), strings.Join(e.Candidates, ", "))
}

// Resolve finds the real servers ref names in st: its ID ("web/web1"),
// or, when it names exactly one, its name ("web1"), its address with or
// without port ("10.0.1.1:80", "10.0.1.1", "[2001:db8::1]:80"), or either
// of those under a virtual server ("web/10.0.1.1"). The ID of an override
// whose real server left the configuration also resolves (to clear it).
// With all, every match is returned instead of an *AmbiguousError.
func Resolve(st *director.Status, ref string, all bool) ([]string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: empty reference", ErrNoRealServer)
	}
	for _, vs := range st.VirtualServers {
		for _, rs := range vs.RealServers {
			if rs.ID == ref {
				return []string{ref}, nil
			}
		}
	}
	for _, o := range st.Overrides {
		if o.RealServer == ref {
			return []string{ref}, nil
		}
	}
	vsName, rest := "", ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		vsName, rest = ref[:i], ref[i+1:]
		if !slices.ContainsFunc(st.VirtualServers, func(v director.VirtualServerStatus) bool { return v.Name == vsName }) {
			return nil, fmt.Errorf("%w: no virtual server %q", ErrNoRealServer, vsName)
		}
	}
	var matches []string
	for _, vs := range st.VirtualServers {
		if vsName != "" && vs.Name != vsName {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs.Name == rest || addrMatches(vs, rs, rest) {
				matches = append(matches, rs.ID)
			}
		}
	}
	switch {
	case len(matches) == 0:
		return nil, fmt.Errorf("%w: %q is neither a real server ID (VS/NAME) nor the name or address of one", ErrNoRealServer, ref)
	case len(matches) > 1 && !all:
		return nil, &AmbiguousError{Ref: ref, Candidates: matches}
	}
	return matches, nil
}

// addrMatches reports whether s is rs's address: "ADDR" matches whatever
// the port, "ADDR:PORT" the real server's port, or a service's port when
// the real server takes each service's.
func addrMatches(vs director.VirtualServerStatus, rs director.RealServerStatus, s string) bool {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Addr().Unmap() != rs.Addr.Unmap() {
			return false
		}
		if rs.Port != 0 {
			return rs.Port == ap.Port()
		}
		return slices.ContainsFunc(vs.Services, func(k ipvs.ServiceKey) bool { return k.Addr.Port() == ap.Port() })
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return err == nil && a.Unmap() == rs.Addr.Unmap()
}
