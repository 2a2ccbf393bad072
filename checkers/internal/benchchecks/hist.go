package main

import (
	"sync/atomic"
	"time"
)

// hist is a lock-free histogram of delays: 1µs buckets up to 1ms, 10µs to
// 10ms, 100µs to 100ms, 1ms to 10s, and one for the rest.
type hist struct {
	b    [1000 + 900 + 900 + 9900 + 1]atomic.Int64
	n    atomic.Int64
	maxv atomic.Int64
}

func newHist() *hist { return &hist{} }

func bucket(d time.Duration) int {
	us := d.Microseconds()
	switch {
	case us < 0:
		return 0
	case us < 1000:
		return int(us)
	case us < 10_000:
		return 1000 + int(us-1000)/10
	case us < 100_000:
		return 1900 + int(us-10_000)/100
	case us < 10_000_000:
		return 2800 + int(us-100_000)/1000
	}
	return 12700
}

// lower is the smallest delay that falls in bucket i.
func lower(i int) time.Duration {
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	switch {
	case i < 1000:
		return us(i)
	case i < 1900:
		return us(1000 + (i-1000)*10)
	case i < 2800:
		return us(10_000 + (i-1900)*100)
	case i < 12700:
		return us(100_000 + (i-2800)*1000)
	}
	return 10 * time.Second
}

func (h *hist) add(d time.Duration) {
	h.b[bucket(d)].Add(1)
	h.n.Add(1)
	for {
		m := h.maxv.Load()
		if int64(d) <= m || h.maxv.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *hist) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := int64(q*float64(n-1)) + 1
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want {
			return lower(i)
		}
	}
	return lower(len(h.b) - 1)
}

func (h *hist) max() time.Duration { return time.Duration(h.maxv.Load()) }
