package director

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/ipvs"
)

// bigConfig is nvs virtual servers of nrs real servers each, with tcp
// checks that never run within a benchmark (1h interval and warmup on a
// clock nobody advances).
func bigConfig(nvs, nrs int) string {
	var b strings.Builder
	b.WriteString("ipvs { resync_interval = \"1h\" }\n")
	for i := range nvs {
		fmt.Fprintf(&b, "virtual_server \"v%d\" {\n  address = \"10.%d.%d.1:80\"\n  drain_timeout = \"0s\"\n  check \"tcp\" {\n    interval = \"1h\"\n    warmup = \"1h\"\n  }\n", i, i/250, i%250)
		for j := range nrs {
			fmt.Fprintf(&b, "  real_server { address = \"10.200.%d.%d:80\" }\n", j, i%250+1)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// BenchmarkVerdictToWrite measures the director's side of the fast path:
// from a check verdict handed to the event loop (as the checkers' Notify
// does) to the end of its kernel write, with 10,000 virtual servers of 5
// real servers each. The backend is the in-memory one, so this is lvsd's
// own cost; the kernel lab test TestKernelDaemonRealServerFailover adds
// the netlink write. Each op flips one real server down or up (one write).
func BenchmarkVerdictToWrite(b *testing.B) {
	const nvs, nrs = 10000, 5
	cfg := parse(b, bigConfig(nvs, nrs))
	mem := ipvs.NewMemory(ipvs.Table{})
	logger := logrus.New()
	logger.SetLevel(logrus.ErrorLevel)
	clock := clockwork.NewFakeClock()
	d, err := New(Options{Config: cfg, Backend: mem, Clock: clock, Log: logger})
	if err != nil {
		b.Fatal(err)
	}
	ready := make(chan struct{})
	d.ready = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		b.Fatal(err)
	}
	var delays []time.Duration
	seq := uint64(1 << 40)
	up := map[string]bool{}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		vs := cfg.VirtualServers[(i*7919)%nvs]
		rs := vs.RealServers[i%nrs]
		isUp, seen := up[rs.ID]
		if !seen {
			isUp = true
		}
		seq++
		w := mem.Writes()
		start := time.Now()
		d.verdicts <- checkers.Verdict{Owner: rs.ID, Up: !isUp, Weight: -1, Seq: seq, Time: clock.Now(), Reason: "bench"}
		for mem.Writes() == w {
			runtime.Gosched()
		}
		delays = append(delays, time.Since(start))
		up[rs.ID] = !isUp
	}
	b.StopTimer()
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
}
