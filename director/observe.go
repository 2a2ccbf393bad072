package director

import (
	"time"

	"github.com/lvsd/lvsd/checkers"
)

// Observer sees the Director's work as it happens, for metrics: what a
// status snapshot cannot show (each check's latency, each sync's duration).
// Its methods must return quickly and never block: CheckRun is called on
// the checkers' workers, the others on the event loop.
type Observer interface {
	// CheckRun is one completed check run (checkers.Options.Observe).
	CheckRun(checkers.Observation)
	// FullSync is one full sync of the kernel table (dump, diff, writes):
	// how long it took, and its error if it could not complete.
	FullSync(took time.Duration, err error)
	// VerdictApplied is a health change written to the kernel: the time
	// from the check's verdict to the end of the write.
	VerdictApplied(delay time.Duration)
}

// nopObserver is the Observer of a Director without one.
type nopObserver struct{}

func (nopObserver) CheckRun(checkers.Observation) {}
func (nopObserver) FullSync(time.Duration, error) {}
func (nopObserver) VerdictApplied(time.Duration)  {}
