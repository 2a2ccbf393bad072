package kaconf

// Warning is something of the keepalived configuration that lvsd does
// differently or not at all. Nothing is dropped without one.
type Warning struct {
	Pos Pos
	Msg string
	// Note marks information only: a statement was dropped or rewritten,
	// but lvsd behaves as keepalived did (e.g. "state MASTER", or a default
	// written out). --strict fails on warnings, not on notes.
	Note bool
}

func (w Warning) String() string {
	kind := "warning"
	if w.Note {
		kind = "note"
	}
	return w.Pos.String() + ": " + kind + ": " + w.Msg
}
