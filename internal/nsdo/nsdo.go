// Package nsdo runs code inside a network namespace, for the test harnesses
// (test/nstest for go test, test/scenario for the lab's programs).
package nsdo

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on an OS thread that has entered the namespace h (name is for
// errors). Sockets fn opens stay in the namespace; goroutines it starts do
// not inherit it. The thread goes back to Go's pool only if leaving the
// namespace worked: otherwise another goroutine could run in it.
func Do(h netns.NsHandle, name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			errc <- fmt.Errorf("enter %s: %w", name, err)
			return
		}
		err = fn()
		if serr := netns.Set(orig); serr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
