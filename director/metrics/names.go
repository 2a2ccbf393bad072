package metrics

import (
	"regexp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the names of every lvsd_ metric this package can export
// (whether or not it has a value now), sorted: for the documentation and
// the dashboard tests.
func Names() []string {
	m := New(Options{Director: nil})
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range []prometheus.Collector{m.syncDuration, m.syncFailures, m.verdictDelay, (*snapshotCollector)(m)} {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if s := fqName.FindStringSubmatch(d.String()); s != nil {
			out = append(out, s[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
