package metrics

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/ipvs"
)

// BenchmarkScrape gathers the metrics of 2,000 virtual servers x 5 real
// servers (10,000), kernel counters included (in memory): the cost of one
// scrape, and its size.
func BenchmarkScrape(b *testing.B) {
	var src strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&src, "virtual_server \"vs%d\" {\n  address = \"10.%d.%d.1:80\"\n", i, 100+i/250, i%250)
		for j := range 5 {
			fmt.Fprintf(&src, "  real_server {\n    address = \"10.0.%d.%d:80\"\n    check \"none\" {}\n  }\n", i%250, j+1)
		}
		src.WriteString("}\n")
	}
	cfg, diags := director.ParseConfig([]byte(src.String()), "bench.hcl", nil)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	mem := ipvs.NewMemory(ipvs.Table{})
	logger, _ := logtest.NewNullLogger()
	ready := make(chan struct{})
	d, err := director.New(director.Options{Config: cfg, Backend: mem, Log: logger, Ready: func() { close(ready) }})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case <-time.After(time.Minute):
		b.Fatal("not ready")
	}
	m := New(Options{Director: d, Counters: control.NewCounters(mem.Dump, time.Hour, nil)})
	b.ResetTimer()
	var series int
	for range b.N {
		fams, err := m.Registry().Gather()
		if err != nil {
			b.Fatal(err)
		}
		series = 0
		for _, f := range fams {
			series += len(f.Metric)
		}
	}
	b.ReportMetric(float64(series), "series")
}
