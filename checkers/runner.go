package checkers

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/sirupsen/logrus"
)

// Options configure a Runner. The zero value works.
type Options struct {
	// Clock schedules the checks. Default: the real clock. Checks' own
	// timeouts always run on real time.
	Clock clockwork.Clock
	// Rand spreads first checks over their warmup. Default: randomly
	// seeded. It is only used with the Runner's lock held.
	Rand *rand.Rand
	// Log gets one line per check transition. Default: logrus's standard
	// logger.
	Log logrus.FieldLogger
	// MaxConcurrent caps how many checks run at once on worker goroutines
	// (http, https, exec, dns, udp, tcp with send/expect). Default 4096.
	// Checks due while all workers are busy wait; Status and Observe show
	// the delay. Plain tcp connects and icmp need no worker: they run on
	// shared event loops and are not counted.
	MaxConcurrent int
	// Resolution is the scheduler's tick: it wakes at most once per
	// Resolution and starts every check due by then, so checks start up to
	// Resolution late and thousands of checks a second cost a thousand
	// wake-ups, not thousands. Default 1ms; negative: wake for every check.
	Resolution time.Duration
	// Notify receives every change of an owner's verdict, in order, from
	// one goroutine owned by Run. It may block: checks keep running and
	// verdicts queue up meanwhile.
	Notify func(Verdict)
	// Observe, if set, sees every completed check run. It is called on
	// the worker that ran the check and must return quickly (metrics,
	// benchmarks).
	Observe func(Observation)
}

// Registration asks for a check on behalf of an owner. For the director
// an owner is one real server of one virtual server; the runner treats it
// as an opaque name.
type Registration struct {
	Owner string
	Check Definition
	// AssumeUp makes a new check of this registration start up even with
	// Settings.StartDown: for an owner known to be serving already, such as
	// a real server a restarted director finds in the kernel. It does not
	// change a check that is already running, and is not part of the
	// check's key.
	AssumeUp bool
}

// Verdict is an owner's health: up when every check it registered is up.
type Verdict struct {
	Owner string
	Up    bool
	// Weight is the weight asked for by an exec check with dynamic
	// weight (the lowest, if several), or -1: use the configured weight.
	Weight int
	// Check is the ID of the check whose result caused this verdict, and
	// Target what it checked; empty when Update caused it (Initial, or
	// checks removed from the owner).
	Check  string
	Target netip.AddrPort
	// Reason is the causing result's reason, or what Update did.
	Reason string
	// Result is the result that caused the verdict (zero for Update).
	Result Result
	// Initial marks the first verdict of a newly registered owner.
	Initial bool
	// Time is when the verdict was reached (the runner's clock).
	Time time.Time
	// Seq increases with every verdict the Runner issues. A consumer that
	// mixes State and Notify keeps the highest Seq per owner.
	Seq uint64
}

// Observation is one completed check run.
type Observation struct {
	Check string
	// Due is when the run was scheduled, Start when it began, End when
	// its result was in (the runner's clock).
	Due, Start, End time.Time
	Result          Result
}

// Status is a snapshot of one check for metrics and status output.
type Status struct {
	ID     string
	Kind   Kind
	Target netip.AddrPort
	Owners []string
	Up     bool
	// Weight is the dynamic weight in force, or -1.
	Weight int
	// Doubt counts consecutive results that disagree with Up (the verdict
	// changes when it reaches rise or fall).
	Doubt int
	Last  Result
	// LastTime is when Last came in; LastDelay how late its run started
	// against its schedule.
	LastTime  time.Time
	LastDelay time.Duration
	Runs      uint64
	Successes uint64
	Failures  uint64
	// Transitions counts verdict changes; Since is when the last one
	// happened (or the check was added).
	Transitions uint64
	Since       time.Time
	Next        time.Time
	Running     bool
}

// Runner runs checks on a schedule, applies rise and fall, and reports
// verdicts. Create it with NewRunner, give it checks with Update, and run
// it with Run.
type Runner struct {
	clock   clockwork.Clock
	log     logrus.FieldLogger
	notify  func(Verdict)
	observe func(Observation)
	max     int
	res     time.Duration
	env     *Env
	// wrap, when set by tests, runs each check (e.g. inside a network
	// namespace).
	wrap func(func())

	base       context.Context
	baseCancel context.CancelFunc

	mu       sync.Mutex
	rand     *rand.Rand
	checks   map[string]*check
	owners   map[string]*ownerState
	queue    schedule
	seq      uint64
	serial   uint64
	started  bool
	inflight int
	wake     chan struct{}

	nmu     sync.Mutex
	pending []Verdict
	nwake   chan struct{}

	jobs       chan job
	nworkers   atomic.Int64
	workerGone chan struct{}
	workers    sync.WaitGroup
}

type check struct {
	key    string
	id     string
	def    Definition // normalized
	run    Check
	owners []string
	ctx    context.Context
	cancel context.CancelFunc

	serial  uint64
	due     time.Time
	index   int
	running bool
	removed bool

	h         hysteresis
	weight    int
	hasWeight bool

	last        Result
	lastTime    time.Time
	lastDelay   time.Duration
	runs        uint64
	successes   uint64
	failures    uint64
	transitions uint64
	since       time.Time
}

type ownerState struct {
	name   string
	checks []*check
	v      Verdict
}

type job struct {
	c   *check
	due time.Time
}

// NewRunner returns a Runner with no checks.
func NewRunner(o Options) *Runner {
	r := &Runner{
		clock:      o.Clock,
		log:        o.Log,
		notify:     o.Notify,
		observe:    o.Observe,
		max:        o.MaxConcurrent,
		rand:       o.Rand,
		checks:     map[string]*check{},
		owners:     map[string]*ownerState{},
		wake:       make(chan struct{}, 1),
		nwake:      make(chan struct{}, 1),
		jobs:       make(chan job),
		workerGone: make(chan struct{}, 1),
	}
	if r.clock == nil {
		r.clock = clockwork.NewRealClock()
	}
	if r.log == nil {
		r.log = logrus.StandardLogger()
	}
	r.log = r.log.WithField("component", "checkers")
	if r.max <= 0 {
		r.max = 4096
	}
	switch r.res = o.Resolution; {
	case r.res == 0:
		r.res = time.Millisecond
	case r.res < 0:
		r.res = 0
	}
	if r.rand == nil {
		r.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	r.env = NewEnv(r.log)
	r.base, r.baseCancel = context.WithCancel(context.Background())
	return r
}

// Update replaces the set of checks. Each registration's definition is
// validated and keyed (Definition.Key); registrations with the same key
// share one check. A check whose key was already running keeps its state
// and schedule; a new key starts after a random warmup; a key no longer
// registered stops (a run in flight is cancelled, or for plain tcp and
// icmp left to its timeout with its result dropped). A new check that
// replaces a removed one of the same owner and target (a changed
// definition) starts from the removed one's verdict, so a definition
// change alone does not flap the owner.
//
// Each owner new to the runner gets an Initial verdict through Notify, and
// an owner whose verdict changes because its checks changed gets one too.
// On error nothing changes.
func (r *Runner) Update(regs []Registration) error {
	type want struct {
		def      Definition
		owners   map[string]bool
		assumeUp bool
	}
	wants := map[string]*want{}
	ownerKeys := map[string][]string{}
	var errs []error
	for _, reg := range regs {
		if reg.Owner == "" {
			errs = append(errs, fmt.Errorf("check of %s registered without an owner", reg.Check.Target))
			continue
		}
		if err := reg.Check.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", reg.Owner, err))
			continue
		}
		key := reg.Check.Key()
		w := wants[key]
		if w == nil {
			w = &want{def: reg.Check.Normalize(), owners: map[string]bool{}}
			wants[key] = w
		}
		w.assumeUp = w.assumeUp || reg.AssumeUp
		if !w.owners[reg.Owner] {
			w.owners[reg.Owner] = true
			ownerKeys[reg.Owner] = append(ownerKeys[reg.Owner], key)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	built := map[string]Check{}
	for key, w := range wants {
		if r.checks[key] != nil {
			continue
		}
		c, err := Build(w.def, r.env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built[key] = c
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	now := r.clock.Now()
	type ownerTarget struct {
		owner  string
		target netip.AddrPort
	}
	type carried struct {
		up        bool
		weight    int
		hasWeight bool
	}
	carry := map[ownerTarget]carried{}
	added, removed := 0, 0
	for key, c := range r.checks {
		if wants[key] != nil {
			continue
		}
		r.stopCheck(c)
		delete(r.checks, key)
		removed++
		for _, o := range c.owners {
			k := ownerTarget{o, c.def.Target}
			prev, seen := carry[k]
			cur := carried{c.h.up, c.weight, c.hasWeight}
			if seen {
				cur.up = cur.up && prev.up
				if prev.hasWeight && (!cur.hasWeight || prev.weight < cur.weight) {
					cur.weight, cur.hasWeight = prev.weight, true
				}
			}
			carry[k] = cur
		}
	}

	keys := make([]string, 0, len(wants))
	for key := range wants {
		keys = append(keys, key)
	}
	slices.Sort(keys) // deterministic warmup draws for a seeded Rand
	for _, key := range keys {
		w := wants[key]
		owners := make([]string, 0, len(w.owners))
		for o := range w.owners {
			owners = append(owners, o)
		}
		slices.Sort(owners)
		if c := r.checks[key]; c != nil {
			c.owners = owners
			continue
		}
		c := &check{
			key:    key,
			id:     idFor(w.def, key),
			def:    w.def,
			run:    built[key],
			owners: owners,
			index:  -1,
			since:  now,
			h:      hysteresis{up: !w.def.Settings.StartDown || w.assumeUp},
		}
		for _, o := range owners {
			if prev, ok := carry[ownerTarget{o, w.def.Target}]; ok {
				c.h.up, c.weight, c.hasWeight = prev.up, prev.weight, prev.hasWeight
				break
			}
		}
		c.ctx, c.cancel = context.WithCancel(r.base)
		r.serial++
		c.serial = r.serial
		c.due = now
		if wu := w.def.Settings.Warmup; wu > 0 {
			c.due = now.Add(time.Duration(r.rand.Int64N(int64(wu))))
		}
		heap.Push(&r.queue, c)
		r.checks[key] = c
		added++
	}
	if added > 0 || removed > 0 {
		r.log.WithFields(logrus.Fields{"checks": len(r.checks), "added": added, "removed": removed}).Info("checks updated")
	}

	owners := make(map[string]*ownerState, len(ownerKeys))
	names := make([]string, 0, len(ownerKeys))
	for name := range ownerKeys {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		o := r.owners[name]
		isNew := o == nil
		if isNew {
			o = &ownerState{name: name}
		}
		o.checks = o.checks[:0]
		for _, key := range ownerKeys[name] {
			o.checks = append(o.checks, r.checks[key])
		}
		owners[name] = o
		up, weight := o.aggregate()
		switch {
		case isNew:
			reason := "registered up"
			if !up {
				reason = "registered down"
			}
			r.emit(o, Verdict{Owner: name, Up: up, Weight: weight, Reason: reason, Initial: true, Time: now})
		case up != o.v.Up || weight != o.v.Weight:
			r.emit(o, Verdict{Owner: name, Up: up, Weight: weight, Reason: "checks changed", Time: now})
		}
	}
	r.owners = owners
	r.kick()
	return nil
}

// aggregate is the owner's verdict from its checks' verdicts.
func (o *ownerState) aggregate() (up bool, weight int) {
	up, weight = true, -1
	for _, c := range o.checks {
		up = up && c.h.up
		if c.hasWeight && (weight < 0 || c.weight < weight) {
			weight = c.weight
		}
	}
	return up, weight
}

// emit records v as o's verdict and queues it for Notify. r.mu is held,
// so verdicts queue in the order they were reached.
func (r *Runner) emit(o *ownerState, v Verdict) {
	r.seq++
	v.Seq = r.seq
	o.v = v
	if r.notify == nil {
		return
	}
	r.nmu.Lock()
	r.pending = append(r.pending, v)
	r.nmu.Unlock()
	select {
	case r.nwake <- struct{}{}:
	default:
	}
}

// stopCheck takes c off the schedule and cancels a run in flight.
func (r *Runner) stopCheck(c *check) {
	c.removed = true
	c.cancel()
	if cl, ok := c.run.(closer); ok {
		cl.close()
	}
	if c.index >= 0 {
		heap.Remove(&r.queue, c.index)
	}
}

// closer is implemented by checks that hold resources between runs (an
// HTTP check's kept-alive connection).
type closer interface{ close() }

func (r *Runner) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// State returns the owner's current verdict. After Update returns it is
// current for every registered owner; Notify reports every later change.
func (r *Runner) State(owner string) (Verdict, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.owners[owner]
	if o == nil {
		return Verdict{}, false
	}
	return o.v, true
}

// Status returns a snapshot of every check, ordered by ID.
func (r *Runner) Status() []Status {
	r.mu.Lock()
	out := make([]Status, 0, len(r.checks))
	for _, c := range r.checks {
		w := -1
		if c.hasWeight {
			w = c.weight
		}
		out = append(out, Status{
			ID: c.id, Kind: c.def.Spec.Kind(), Target: c.def.Target, Owners: slices.Clone(c.owners),
			Up: c.h.up, Weight: w, Doubt: c.h.streak,
			Last: c.last, LastTime: c.lastTime, LastDelay: c.lastDelay,
			Runs: c.runs, Successes: c.successes, Failures: c.failures,
			Transitions: c.transitions, Since: c.since, Next: c.due, Running: c.running,
		})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Run runs the checks until ctx is done, then cancels the runs in flight,
// waits for them, closes the ICMP sockets and returns nil. A Runner runs
// once.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("checkers: Runner.Run called twice")
	}
	r.started = true
	r.mu.Unlock()

	stop := context.AfterFunc(ctx, r.baseCancel)
	defer stop()
	var notifier sync.WaitGroup
	if r.notify != nil {
		notifier.Add(1)
		go func() {
			defer notifier.Done()
			r.notifyLoop()
		}()
	}
	defer func() {
		r.baseCancel()
		r.workers.Wait()
		notifier.Wait()
		_ = r.env.Close()
		r.mu.Lock()
		for _, c := range r.checks {
			if cl, ok := c.run.(closer); ok {
				cl.close()
			}
		}
		r.mu.Unlock()
	}()

	timer := r.clock.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []job
	for {
		batch = batch[:0]
		r.mu.Lock()
		now := r.clock.Now()
		for len(r.queue) > 0 && !r.queue[0].due.After(now) {
			c := heap.Pop(&r.queue).(*check)
			c.running = true
			r.inflight++
			batch = append(batch, job{c: c, due: c.due})
		}
		next := time.Duration(-1)
		if len(r.queue) > 0 {
			next = r.queue[0].due.Sub(now)
		}
		r.mu.Unlock()
		for i, j := range batch {
			if st, ok := j.c.run.(starter); ok {
				r.startAsync(st, j)
				continue
			}
			if !r.dispatch(j) {
				r.abandon(batch[i:])
				return nil
			}
		}
		if next >= 0 {
			timer.Reset(max(next, r.res))
		} else {
			timer.Stop()
		}
		select {
		case <-timer.Chan():
		case <-r.wake:
		case <-r.base.Done():
			return nil
		}
	}
}

// abandon returns jobs that were never started when the runner stops.
func (r *Runner) abandon(jobs []job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range jobs {
		j.c.running = false
		r.inflight--
	}
}

const workerIdle = 10 * time.Second

// dispatch hands j to an idle worker, starts a worker if there are fewer
// than the maximum, or waits for one to come free. It returns false if
// the runner stopped first.
func (r *Runner) dispatch(j job) bool {
	for {
		select {
		case r.jobs <- j:
			return true
		default:
		}
		if r.nworkers.Load() < int64(r.max) {
			r.nworkers.Add(1)
			r.workers.Add(1)
			go r.worker(j)
			return true
		}
		select {
		case r.jobs <- j:
			return true
		case <-r.workerGone:
			// A worker left while we waited: there is room to start one.
		case <-r.base.Done():
			return false
		}
	}
}

// worker runs jobs until it has been idle for workerIdle or the runner
// stops.
func (r *Runner) worker(j job) {
	defer r.workers.Done()
	defer func() {
		r.nworkers.Add(-1)
		select {
		case r.workerGone <- struct{}{}:
		default:
		}
	}()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		r.execute(j)
		idle.Reset(workerIdle)
		select {
		case j = <-r.jobs:
		case <-idle.C:
			return
		case <-r.base.Done():
			return
		}
	}
}

// startAsync starts a check that needs no worker; its result comes back
// through the callback.
func (r *Runner) startAsync(st starter, j job) {
	start := r.clock.Now()
	done := func(res Result) {
		end := r.clock.Now()
		r.complete(j.c, j.due, start, end, res)
		if r.observe != nil {
			r.observe(Observation{Check: j.c.id, Due: j.due, Start: start, End: end, Result: res})
		}
	}
	if r.wrap != nil {
		r.wrap(func() { st.start(j.c.ctx, done) })
		return
	}
	st.start(j.c.ctx, done)
}

func (r *Runner) execute(j job) {
	c := j.c
	start := r.clock.Now()
	var res Result
	if r.wrap != nil {
		r.wrap(func() { res = c.run.Check(c.ctx) })
	} else {
		res = c.run.Check(c.ctx)
	}
	end := r.clock.Now()
	r.complete(c, j.due, start, end, res)
	if r.observe != nil {
		r.observe(Observation{Check: c.id, Due: j.due, Start: start, End: end, Result: res})
	}
}

// complete records a result, applies rise/fall, reschedules the check and
// reports what changed.
func (r *Runner) complete(c *check, due, start, end time.Time, res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.running = false
	r.inflight--
	if c.removed {
		return
	}
	c.runs++
	if res.OK {
		c.successes++
	} else {
		c.failures++
	}
	c.last, c.lastTime, c.lastDelay = res, end, start.Sub(due)

	prevWeight, prevHas := c.weight, c.hasWeight
	changed := c.h.observe(res.OK, c.def.Settings.Rise, c.def.Settings.Fall)
	if res.OK && res.HasWeight {
		c.weight, c.hasWeight = res.Weight, true
	}
	weightChanged := c.h.up && (c.weight != prevWeight || c.hasWeight != prevHas)

	iv := c.def.Settings.Interval
	if c.h.streak > 0 {
		iv = c.def.Settings.RetryInterval
	}
	c.due = due.Add(iv)
	if c.due.Before(end) {
		c.due = end
	}
	heap.Push(&r.queue, c)
	if r.queue[0] == c {
		r.kick()
	}

	if !changed && !weightChanged {
		return
	}
	if changed {
		c.transitions++
		c.since = end
		f := logrus.Fields{"check": c.id, "reason": res.Reason, "owners": len(c.owners)}
		if c.h.up {
			f["after"] = fmt.Sprintf("%d successes", c.def.Settings.Rise)
			r.log.WithFields(f).Info("check up")
		} else {
			f["after"] = fmt.Sprintf("%d failures", c.def.Settings.Fall)
			r.log.WithFields(f).Warn("check down")
		}
	} else {
		r.log.WithFields(logrus.Fields{"check": c.id, "weight": c.weight, "reason": res.Reason}).Info("check weight changed")
	}
	for _, name := range c.owners {
		o := r.owners[name]
		if o == nil {
			continue
		}
		up, weight := o.aggregate()
		if up == o.v.Up && weight == o.v.Weight {
			continue
		}
		r.emit(o, Verdict{
			Owner: name, Up: up, Weight: weight,
			Check: c.id, Target: c.def.Target, Reason: res.Reason, Result: res, Time: end,
		})
	}
}

func (r *Runner) notifyLoop() {
	for {
		r.nmu.Lock()
		batch := r.pending
		r.pending = nil
		r.nmu.Unlock()
		for _, v := range batch {
			if r.base.Err() != nil {
				return
			}
			r.notify(v)
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-r.nwake:
		case <-r.base.Done():
			return
		}
	}
}

// idle reports that nothing runs and nothing is due at the clock's now
// (for tests driving a fake clock).
func (r *Runner) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight == 0 && (len(r.queue) == 0 || r.queue[0].due.After(r.clock.Now()))
}
