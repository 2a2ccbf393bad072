package director

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the Director starts (the loop, the checkers, hooks) has
// an owner that stops it: no test may leave one behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
