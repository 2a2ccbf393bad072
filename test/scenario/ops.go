package scenario

import (
	"context"
	"fmt"
	"time"
)

// Operations on the running lab that the walkthrough and the drills share.

// PowerOff makes director name vanish as a machine losing power would, as
// far as the others can tell: lvsd is killed with SIGKILL and its cables
// are pulled. Its kernel keeps its state (table, connections, the VIP on
// its now dead interface), like a node whose daemon crashed while it was
// cut off. It returns the moment of the kill.
func (l *Lab) PowerOff(name string) (time.Time, error) {
	d := l.Director(name)
	if d == nil {
		return time.Time{}, fmt.Errorf("no director %s", name)
	}
	// Killed first, so that lvsd never sees its carrier go (it would
	// release the VIP, as a live node does): a dead machine keeps the VIP
	// on its interface, out of everyone's reach.
	at := time.Now()
	if err := d.Kill(); err != nil {
		return at, err
	}
	if err := l.Topo.CutLinks(name); err != nil {
		return at, err
	}
	return at, nil
}

// PowerOn plugs director name back in and starts lvsd there (it adopts the
// kernel table it left, removes its stale VIP and joins VRRP).
func (l *Lab) PowerOn(ctx context.Context, name string, within time.Duration) error {
	d := l.Director(name)
	if d == nil {
		return fmt.Errorf("no director %s", name)
	}
	if err := l.Topo.RestoreLinks(ctx, name); err != nil {
		return err
	}
	return d.Start(within)
}

// WaitRealServer waits until every running director has logged that real
// server rs ("web2") of the lab's virtual server went down (up=false) or
// came back (up=true) since its mark in marks; it returns when the last of
// them did (the kernel write comes before the line).
func (l *Lab) WaitRealServer(rs string, up bool, marks map[string]int, within time.Duration) (time.Time, error) {
	msg := "real server down"
	if up {
		msg = "real server up"
	}
	var last time.Time
	type res struct {
		at  time.Time
		err error
	}
	ch := make(chan res, len(l.Directors))
	n := 0
	for _, d := range l.Directors {
		if !d.Running() {
			continue
		}
		n++
		go func() {
			line, err := d.WaitLine(marks[d.Name], within, msg+" "+rs, func(line LogLine) bool {
				return line.Msg() == msg && line.Str("rs") == "web/"+rs
			})
			ch <- res{line.At(), err}
		}()
	}
	var errs []error
	for range n {
		r := <-ch
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		if r.at.After(last) {
			last = r.at
		}
	}
	if len(errs) > 0 {
		return last, errs[0]
	}
	return last, nil
}

// Marks is every director's log position.
func (l *Lab) Marks() map[string]int {
	m := map[string]int{}
	for _, d := range l.Directors {
		m[d.Name] = d.Mark()
	}
	return m
}

// WaitHolders waits until exactly the directors in want hold the VIP and
// returns when that became true.
func (l *Lab) WaitHolders(within time.Duration, want ...string) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		got := l.Holders()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("VIP held by %v after %v, want %v (VRRP states: %s)", got, within, want, l.FormatStates())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// MasterDown is RFC 5798's Master_Down_Interval of the lab's backup
// (priority 100) at the lab's advert interval: how long a backup waits
// for a silent master.
func (l *Lab) MasterDown() time.Duration {
	a := l.Opt.Advert
	return 3*a + time.Duration(256-100)*a/256
}

// Streams opens the lab's long-lived connections: n in all, two of them
// large downloads (at Options.DownloadRate, long enough to outlast
// lasting), the rest keep-alive connections with a request every
// Options.StreamEvery.
func (l *Lab) Streams(ctx context.Context, n int, lasting time.Duration) (*Streams, error) {
	rate := l.Opt.DownloadRate
	return OpenStreams(ctx, l.Topo.Client, Target(), StreamSpec{
		Conns: n, Downloads: min(2, n), Every: l.Opt.StreamEvery,
		DownloadBytes: int64(lasting.Seconds()+5) * rate, DownloadRate: rate,
		Patience: 10 * time.Second,
	})
}

// Prober starts the lab's client: a request on a new connection every
// Options.ProbeEvery, each allowed 1s.
func (l *Lab) Prober() *Prober {
	return StartProber(l.Topo.Client, Target(), l.Opt.ProbeEvery, time.Second)
}
