package director

import (
	"context"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/checkers/hook"
	"github.com/lvsd/lvsd/internal/ratelog"
)

// maxQueuedHooks bounds the hooks waiting per object: a hook slower than
// the events that trigger it must not grow memory without end.
const maxQueuedHooks = 32

// hookQueue runs notify hooks off the event loop: one at a time per object
// (a real server, a virtual server) in event order, every object
// independently, so a slow hook never delays the IPVS change that
// triggered it or another object's hooks. Hooks still running when the
// daemon stops are killed with their process group.
type hookQueue struct {
	ctx context.Context
	run func(context.Context, hook.Command) hook.Result
	log logrus.FieldLogger
	wg  *sync.WaitGroup

	mu     sync.Mutex
	queues map[string][]hookJob
}

type hookJob struct {
	event string
	cmd   hook.Command
	log   logrus.FieldLogger
}

func newHookQueue(ctx context.Context, run func(context.Context, hook.Command) hook.Result, log logrus.FieldLogger, wg *sync.WaitGroup) *hookQueue {
	return &hookQueue{ctx: ctx, run: run, log: log, wg: wg, queues: map[string][]hookJob{}}
}

// enqueue runs job after the hooks already queued for object.
func (q *hookQueue) enqueue(object string, job hookJob) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pending := q.queues[object]
	if len(pending) >= maxQueuedHooks {
		ratelog.Warn(job.log.WithField("queued", len(pending)), "notify hook dropped: too many hooks of this object still waiting")
		return
	}
	q.queues[object] = append(pending, job)
	if len(pending) > 0 {
		return // its runner goroutine is going
	}
	q.wg.Add(1)
	go q.drain(object)
}

// drain runs object's hooks until none is left.
func (q *hookQueue) drain(object string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		pending := q.queues[object]
		if len(pending) == 0 {
			delete(q.queues, object)
			q.mu.Unlock()
			return
		}
		job := pending[0]
		q.mu.Unlock()

		res := q.run(q.ctx, job.cmd)
		l := job.log.WithFields(logrus.Fields{"hook": job.event, "took": res.Duration.Round(1e6).String()})
		if res.OK() {
			l.Debug("notify hook done")
		} else {
			l.WithField("result", res.String()).Warn("notify hook failed")
		}

		q.mu.Lock()
		q.queues[object] = q.queues[object][1:]
		q.mu.Unlock()
	}
}

// hookCommand is the command of a notify block with env added.
func hookCommand(h *Hook, env []string) hook.Command {
	return hook.Command{Path: h.Command[0], Args: h.Command[1:], Env: env, Timeout: h.Timeout}
}
