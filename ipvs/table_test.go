package ipvs

import (
	"errors"
	"syscall"
	"testing"
)

func TestTableValueSemantics(t *testing.T) {
	k := tcp("10.0.0.1:80")
	tb := NewTable(vs(k, "rr", "10.0.1.2:80=1"))

	got, _ := tb.Get(k)
	got.Destinations[0].Weight = 99
	got.Scheduler = "wrr"
	if again, _ := tb.Get(k); again.Destinations[0].Weight != 1 || again.Scheduler != "rr" {
		t.Fatal("changing what Get returned changed the table")
	}
	c := tb.Clone()
	if err := c.PutDestination(k, Destination{Addr: ap("10.0.1.3:80"), Weight: 1}); err != nil {
		t.Fatal(err)
	}
	c.PutService(Service{ServiceKey: k, Scheduler: "sh"})
	if v, _ := tb.Get(k); len(v.Destinations) != 1 || v.Scheduler != "rr" {
		t.Fatal("changing a clone changed the original")
	}
	if v, _ := c.Get(k); len(v.Destinations) != 2 || v.Scheduler != "sh" {
		t.Fatalf("PutService dropped the real servers or kept the old settings: %+v", v)
	}
	if err := c.PutDestination(tcp("10.9.9.9:1"), Destination{}); err == nil {
		t.Fatal("PutDestination into a missing service succeeded")
	}
	var zero Table
	if zero.Len() != 0 || zero.Has(k) || len(zero.Keys()) != 0 {
		t.Fatal("zero table is not empty")
	}
	zero.PutService(Service{ServiceKey: k, Scheduler: "rr"})
	if !zero.Has(k) {
		t.Fatal("zero table is not usable")
	}
}

func TestTableOrder(t *testing.T) {
	tb := NewTable(
		vs(MarkKey(2, IPv4), "rr"),
		vs(AddrKey(UDP, ap("10.0.0.1:53")), "rr"),
		vs(MarkKey(1, IPv6), "rr"),
		vs(tcp("[2001:db8::1]:80"), "rr"),
		vs(tcp("10.0.0.1:53"), "rr", "10.0.1.9:53=1", "10.0.1.10:53=1", "10.0.1.2:53=1"),
		vs(tcp("10.0.0.1:8"), "rr"),
	)
	want := []string{"tcp 10.0.0.1:8", "tcp 10.0.0.1:53", "udp 10.0.0.1:53", "tcp [2001:db8::1]:80", "fwm 1 inet6", "fwm 2"}
	for i, k := range tb.Keys() {
		if k.String() != want[i] {
			t.Fatalf("Keys()[%d] = %s, want %s (all: %v)", i, k, want[i], tb.Keys())
		}
	}
	v, _ := tb.Get(tcp("10.0.0.1:53"))
	if v.Destinations[0].Addr != ap("10.0.1.2:53") || v.Destinations[2].Addr != ap("10.0.1.10:53") {
		t.Fatalf("destinations not in address order: %v", v.Destinations)
	}
	if tb.NumDestinations() != 3 {
		t.Fatalf("NumDestinations = %d", tb.NumDestinations())
	}
}

func TestTableApplyFailsLikeTheKernel(t *testing.T) {
	k := tcp("10.0.0.1:80")
	tb := NewTable(vs(k, "rr", "10.0.1.2:80=1"))
	missing := Service{ServiceKey: tcp("10.0.0.2:80"), Scheduler: "rr"}
	tests := []struct {
		op   Op
		want error
	}{
		{Op{Kind: AddService, Service: Service{ServiceKey: k, Scheduler: "rr"}}, syscall.EEXIST},
		{Op{Kind: UpdateService, Service: missing}, syscall.ESRCH},
		{Op{Kind: DeleteService, Service: missing}, syscall.ESRCH},
		{Op{Kind: AddDestination, Service: missing, Destination: Destination{Addr: ap("10.0.1.2:80")}}, syscall.ESRCH},
		{Op{Kind: AddDestination, Service: Service{ServiceKey: k}, Destination: Destination{Addr: ap("10.0.1.2:80")}}, syscall.EEXIST},
		{Op{Kind: UpdateDestination, Service: Service{ServiceKey: k}, Destination: Destination{Addr: ap("10.0.1.3:80")}}, syscall.ENOENT},
		{Op{Kind: DeleteDestination, Service: Service{ServiceKey: k}, Destination: Destination{Addr: ap("10.0.1.3:80")}}, syscall.ENOENT},
	}
	for _, tc := range tests {
		if err := tb.Apply(tc.op); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.op, err, tc.want)
		}
	}
}

func TestTableStringIsIpvsadmRestoreInput(t *testing.T) {
	tb := NewTable(vs(tcp("10.0.0.1:80"), "wrr", "10.0.1.2:80=3", "10.0.1.3:80=1"))
	want := "-A -t 10.0.0.1:80 -s wrr\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 3\n-a -t 10.0.0.1:80 -r 10.0.1.3:80 -m -w 1\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if !tb.Equal(tb.Clone()) {
		t.Error("a table differs from its clone")
	}
	other := tb.Clone()
	other.DeleteDestination(tcp("10.0.0.1:80"), ap("10.0.1.3:80"))
	if tb.Equal(other) || other.Equal(tb) {
		t.Error("tables with different real servers are Equal")
	}
}
