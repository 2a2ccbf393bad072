package checkers

// schedule is a min-heap of checks by due time (container/heap). A check is
// in it while it waits for its next run, and out of it while it runs.
type schedule []*check

func (s schedule) Len() int { return len(s) }

func (s schedule) Less(i, j int) bool {
	if s[i].due.Equal(s[j].due) {
		return s[i].serial < s[j].serial // a stable order for tests
	}
	return s[i].due.Before(s[j].due)
}

func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].index = i
	s[j].index = j
}

func (s *schedule) Push(x any) {
	c := x.(*check)
	c.index = len(*s)
	*s = append(*s, c)
}

func (s *schedule) Pop() any {
	old := *s
	n := len(old)
	c := old[n-1]
	old[n-1] = nil
	c.index = -1
	*s = old[:n-1]
	return c
}
