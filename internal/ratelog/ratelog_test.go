package ratelog

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func lines(h *logtest.Hook) []string {
	var out []string
	for _, e := range h.AllEntries() {
		s := e.Level.String() + " " + e.Message
		if n, ok := e.Data["repeated"]; ok {
			s += fmt.Sprintf(" repeated=%v", n)
		}
		if v, ok := e.Data["error"]; ok {
			s += fmt.Sprintf(" error=%v", v)
		}
		out = append(out, s)
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lines:\n got  %q\n want %q", got, want)
	}
}

func TestRepeatedErrorIsCounted(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	l := New(time.Minute, clock)
	err := errors.New("netlink: file exists")
	for range 58 { // one a second: the first is written, 57 are counted
		l.Log(log.WithError(err), logrus.ErrorLevel, "IPVS write failed")
		clock.Advance(time.Second)
	}
	equal(t, lines(hook), []string{"error IPVS write failed error=netlink: file exists"})
	clock.Advance(2 * time.Second) // 60 s since the first
	l.Flush()
	equal(t, lines(hook)[1:], []string{"error IPVS write failed (repeated 57 times in 1m) repeated=57 error=netlink: file exists"})

	// The count line opened a new window: the next one is counted too...
	l.Log(log.WithError(err), logrus.ErrorLevel, "IPVS write failed")
	l.Flush()
	if len(hook.AllEntries()) != 2 {
		t.Fatalf("written inside the new window: %q", lines(hook))
	}
	clock.Advance(time.Minute)
	l.Flush()
	equal(t, lines(hook)[2:], []string{"error IPVS write failed (repeated 1 time in 1m) repeated=1 error=netlink: file exists"})
	// ...and a quiet window forgets the key: the next is written at once.
	clock.Advance(time.Minute)
	l.Flush()
	if n := l.Pending(); n != 0 {
		t.Fatalf("%d keys remembered after a quiet window", n)
	}
	l.Log(log.WithError(err), logrus.ErrorLevel, "IPVS write failed")
	equal(t, lines(hook)[3:], []string{"error IPVS write failed error=netlink: file exists"})
}

func TestDifferentLinesAreNotMerged(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClock()
	l := New(time.Minute, clock)
	l.Log(log.WithField("rs", "web/a"), logrus.WarnLevel, "send failed")
	l.Log(log.WithField("rs", "web/b"), logrus.WarnLevel, "send failed")    // other field value
	l.Log(log.WithField("rs", "web/a"), logrus.ErrorLevel, "send failed")   // other level
	l.Log(log.WithField("rs", "web/a"), logrus.WarnLevel, "receive failed") // other message
	l.Log(log.WithError(errors.New("x")), logrus.WarnLevel, "send failed")  // other error
	l.Log(log.WithError(errors.New("y")), logrus.WarnLevel, "send failed")  //
	l.Log(log.WithField("rs", "web/a"), logrus.WarnLevel, "send failed")    // repeat: counted
	other, otherHook := logtest.NewNullLogger()                             // another logger
	l.Log(other.WithField("rs", "web/a"), logrus.WarnLevel, "send failed")  //
	if n := len(hook.AllEntries()); n != 6 {
		t.Fatalf("%d lines written, want 6: %q", n, lines(hook))
	}
	if n := len(otherHook.AllEntries()); n != 1 {
		t.Fatalf("the other logger's line was limited")
	}
}

func TestLazyCountWithoutFlusher(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClock()
	l := New(10*time.Second, clock)
	for range 5 {
		l.Log(log, logrus.WarnLevel, "icmp socket read failed")
	}
	clock.Advance(90 * time.Second)
	l.Log(log, logrus.WarnLevel, "icmp socket read failed")
	// The count comes with the next occurrence; that one opens the next
	// window (it is counted in it).
	equal(t, lines(hook), []string{
		"warning icmp socket read failed",
		"warning icmp socket read failed (repeated 4 times in 1m30s) repeated=4",
	})
}

func TestDisabledLevelIsNotCounted(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.WarnLevel)
	l := New(time.Minute, clockwork.NewFakeClock())
	l.Log(log, logrus.InfoLevel, "noise")
	if len(hook.AllEntries()) != 0 || l.Pending() != 0 {
		t.Fatal("a disabled level was written or remembered")
	}
}

func TestRunWritesPendingCountsOnStop(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClock()
	l := New(time.Minute, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	for range 3 {
		l.Log(log, logrus.ErrorLevel, "sync failed")
	}
	clock.Advance(20 * time.Second)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	equal(t, lines(hook), []string{"error sync failed", "error sync failed (repeated 2 times in 20s) repeated=2"})
}

func TestRunFlushesOnTime(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClock()
	l := New(time.Minute, clock)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // the ticker
		t.Fatal(err)
	}
	l.Log(log, logrus.ErrorLevel, "sync failed")
	l.Log(log, logrus.ErrorLevel, "sync failed")
	for i := 0; i < 70 && len(hook.AllEntries()) < 2; i++ {
		clock.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(hook.AllEntries()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	equal(t, lines(hook)[1:], []string{"error sync failed (repeated 1 time in 1m) repeated=1"})
}

func TestTooManyKeysAreWrittenUnlimited(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	l := New(time.Minute, clockwork.NewFakeClock())
	for i := range maxKeys + 10 {
		l.Log(log.WithField("n", i), logrus.WarnLevel, "x")
	}
	for range 3 {
		l.Log(log.WithField("n", maxKeys+5), logrus.WarnLevel, "x")
	}
	if n := len(hook.AllEntries()); n != maxKeys+10+3 {
		t.Fatalf("%d lines", n)
	}
	if l.Pending() != maxKeys {
		t.Fatalf("%d keys remembered", l.Pending())
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1m", 90 * time.Second: "1m30s", time.Hour: "1h", 2*time.Hour + time.Second: "2h0m1s", 5 * time.Second: "5s", 0: "0s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestLogAsGroupsVaryingDetails(t *testing.T) {
	log, hook := logtest.NewNullLogger()
	clock := clockwork.NewFakeClock()
	l := New(time.Minute, clock)
	for ttl := range 10 {
		l.LogAs("drop ttl", log.WithField("reason", "ttl"), logrus.WarnLevel, fmt.Sprintf("dropped (ttl): %d", ttl))
	}
	l.LogAs("drop auth", log.WithField("reason", "auth"), logrus.WarnLevel, "dropped (auth)")
	clock.Advance(time.Minute)
	l.Flush()
	equal(t, lines(hook), []string{
		"warning dropped (ttl): 0",
		"warning dropped (auth)",
		"warning dropped (ttl): 9 (repeated 9 times in 1m) repeated=9",
	})
}
