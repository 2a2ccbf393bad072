package vrrp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// nodeEnv, when set, turns the test binary into an lvsd VRRP node: the
// namespace tests start it inside a node namespace so that SIGKILL and link
// cuts hit a real, separate process.
const nodeEnv = "LVSD_VRRP_TEST_NODE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeEnv); spec != "" {
		os.Exit(runNode(spec))
	}
	os.Exit(m.Run())
}

// nodeSpec is what a node process runs.
type nodeSpec struct {
	Config   Config
	Scripts  []ScriptConfig
	StepDown time.Duration // on SIGUSR1
}

// nodeLine is one line a node process writes on stdout.
type nodeLine struct {
	Ev     string // ready, state, exit
	T      int64  // unix nanoseconds
	State  string `json:",omitempty"`
	From   string `json:",omitempty"`
	Reason string `json:",omitempty"`
	Prio   uint8  `json:",omitempty"`
	Err    string `json:",omitempty"`
}

func runNode(raw string) int {
	var spec nodeSpec
	out := json.NewEncoder(os.Stdout)
	var outMu sync.Mutex
	emit := func(l nodeLine) {
		outMu.Lock()
		defer outMu.Unlock()
		l.T = time.Now().UnixNano()
		_ = out.Encode(l)
	}
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		emit(nodeLine{Ev: "exit", Err: err.Error()})
		return 2
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(logrus.DebugLevel)
	log.SetFormatter(&logrus.TextFormatter{TimestampFormat: "15:04:05.000000", FullTimestamp: true})
	entry := logrus.NewEntry(log).WithField("node", spec.Config.SourceAddr)
	inst, err := New(spec.Config, WithLogger(entry))
	if err != nil {
		emit(nodeLine{Ev: "exit", Err: err.Error()})
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, sc := range spec.Scripts {
		s, err := NewScript(sc, entry)
		if err != nil {
			emit(nodeLine{Ev: "exit", Err: err.Error()})
			return 1
		}
		s.Subscribe(inst.SetTrack)
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	runCtx, stop := context.WithCancel(context.Background())
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				inst.StepDown(spec.StepDown)
				continue
			}
			stop()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range inst.Events() {
			emit(nodeLine{Ev: "state", State: ev.To.String(), From: ev.From.String(), Reason: string(ev.Reason), Prio: ev.Priority})
		}
	}()
	emit(nodeLine{Ev: "ready"})
	err = inst.Run(runCtx)
	cancel()
	wg.Wait()
	if err != nil {
		emit(nodeLine{Ev: "exit", Err: fmt.Sprint(err)})
		return 1
	}
	emit(nodeLine{Ev: "exit"})
	return 0
}
