package checkers

// hysteresis turns a stream of results into a verdict: an up target goes
// down after fall consecutive failures, a down one comes up after rise
// consecutive successes. A result that agrees with the verdict clears the
// count.
type hysteresis struct {
	up bool
	// streak counts consecutive results that disagree with up: the
	// verdict is in doubt while it is above zero.
	streak int
}

// observe feeds one result and reports whether the verdict changed.
func (h *hysteresis) observe(ok bool, rise, fall int) bool {
	if ok == h.up {
		h.streak = 0
		return false
	}
	h.streak++
	need := fall
	if !h.up {
		need = rise
	}
	if h.streak < need {
		return false
	}
	h.up = ok
	h.streak = 0
	return true
}
