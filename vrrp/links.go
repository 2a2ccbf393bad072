package vrrp

import (
	"fmt"
	"net"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkState is an interface's state as tracking sees it: up when
// administratively up and running (carrier), as keepalived judges it.
type linkState struct {
	name   string
	up     bool
	detail string // flags and operational state, for the log
	// index is the interface's index; gone is set when it was deleted.
	index int
	gone  bool
}

func (l linkState) key() string { return string(TrackInterface) + ":" + l.name }

// linkSource delivers link state changes of the tracked interfaces.
type linkSource interface {
	updates() <-chan linkState
	close()
}

// trackedLinks lists the interfaces an instance watches: its own (unless
// DontTrackPrimary) and every tracked interface.
func trackedLinks(cfg Config) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if !cfg.DontTrackPrimary {
		add(cfg.Interface)
	}
	for _, t := range cfg.Track {
		if t.Kind == TrackInterface {
			add(t.Name)
		}
	}
	return names
}

// netlinkLinks watches links through a netlink subscription opened in the
// calling thread's network namespace.
type netlinkLinks struct {
	names map[string]bool
	raw   chan netlink.LinkUpdate
	done  chan struct{}
	out   chan linkState
	once  sync.Once
	wg    sync.WaitGroup
}

func subscribeLinks(names []string) (linkSource, error) {
	l := &netlinkLinks{
		names: map[string]bool{},
		raw:   make(chan netlink.LinkUpdate, 64),
		done:  make(chan struct{}),
		out:   make(chan linkState, 16),
	}
	for _, n := range names {
		l.names[n] = true
	}
	err := netlink.LinkSubscribeWithOptions(l.raw, l.done, netlink.LinkSubscribeOptions{ListExisting: true})
	if err != nil {
		return nil, fmt.Errorf("subscribe to link changes: %w", err)
	}
	l.wg.Add(1)
	go l.loop()
	return l, nil
}

func (l *netlinkLinks) loop() {
	defer l.wg.Done()
	defer close(l.out)
	last := map[string]bool{}
	for {
		select {
		case <-l.done:
			return
		case u, ok := <-l.raw:
			if !ok {
				return
			}
			a := u.Attrs()
			if a == nil || !l.names[a.Name] {
				continue
			}
			up := a.Flags&net.FlagUp != 0 && a.RawFlags&unix.IFF_RUNNING != 0
			gone := u.Header.Type == unix.RTM_DELLINK
			if gone {
				up = false
			}
			if prev, seen := last[a.Name]; seen && prev == up && !gone {
				continue
			}
			last[a.Name] = up
			detail := fmt.Sprintf("flags %v running=%v lower_up=%v oper %v", a.Flags, a.RawFlags&unix.IFF_RUNNING != 0, a.RawFlags&unix.IFF_LOWER_UP != 0, a.OperState)
			select {
			case l.out <- linkState{name: a.Name, up: up, detail: detail, index: a.Index, gone: gone}:
			case <-l.done:
				return
			}
		}
	}
}

func (l *netlinkLinks) updates() <-chan linkState { return l.out }

func (l *netlinkLinks) close() {
	l.once.Do(func() { close(l.done) })
	l.wg.Wait()
}
