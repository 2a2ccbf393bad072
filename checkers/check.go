package checkers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
)

// Check is one health check of one target. Check runs it once and returns
// within the check's own timeout (it applies Settings.Timeout itself) or as
// soon as ctx is cancelled. The Runner never runs a Check concurrently with
// itself.
type Check interface {
	Check(ctx context.Context) Result
}

// Result is the outcome of one run of a check.
type Result struct {
	// OK is true when the target passed.
	OK bool
	// Reason says why it failed, short enough for a log line
	// ("connect: connection refused", "status 503 not in 200-299",
	// "connect: timeout after 1s"), or what passed ("status 200").
	Reason string
	// Latency is how long the check took (the round trip for icmp).
	Latency time.Duration
	// Weight is the weight an exec check with DynamicWeight asked for
	// (exit code - 2). Meaningful only when HasWeight is set; a result
	// without a weight leaves the previous one in force.
	Weight    int
	HasWeight bool
}

func (r Result) String() string {
	s := "down"
	if r.OK {
		s = "up"
	}
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	if r.HasWeight {
		s += fmt.Sprintf(" (weight %d)", r.Weight)
	}
	return s
}

// Kind names a kind of check as configuration and logs spell it.
type Kind string

const (
	KindICMP  Kind = "icmp"
	KindTCP   Kind = "tcp"
	KindHTTP  Kind = "http"
	KindHTTPS Kind = "https"
	KindExec  Kind = "exec"
	KindDNS   Kind = "dns"
	KindUDP   Kind = "udp"
)

// Spec is the kind-specific part of a check: one of ICMPSpec, TCPSpec,
// HTTPSpec, ExecSpec, DNSSpec and UDPSpec. Zero fields mean the documented
// defaults.
type Spec interface {
	Kind() Kind
	// Validate reports what is wrong with the spec, after defaults.
	Validate() error
	// normalized returns the spec with defaults filled in, so that two
	// specs that mean the same thing compare (and key) equal.
	normalized() Spec
	build(t netip.AddrPort, s Settings, env *Env) (Check, error)
}

// starter is implemented by checks that run without a goroutine of their
// own (plain tcp connects, icmp): start begins one run and returns at once,
// and done is called exactly once with the result, from another goroutine
// or, on an early error, before start returns. The Runner calls start from
// its scheduler instead of handing the check to a worker.
type starter interface {
	start(ctx context.Context, done func(Result))
}

// Definition is one check of one real server.
type Definition struct {
	// Target is the real server as it is served. Settings.Address and
	// Settings.Port override where the check connects. icmp ignores the
	// port; exec passes both to the command in its environment.
	Target   netip.AddrPort
	Settings Settings
	Spec     Spec
}

// Env holds what checks share: the raw ICMP sockets (a Pinger) and the
// epoll loop that runs plain tcp connects. A Runner has its own; code that
// builds checks itself makes one with NewEnv and closes it after use.
type Env struct {
	pinger *Pinger
	conn   *connector
}

// NewEnv returns an Env whose sockets open on first use. log receives
// socket errors (nil: discard).
func NewEnv(log logrus.FieldLogger) *Env {
	return &Env{pinger: NewPinger(log), conn: newConnector()}
}

// Close closes the shared sockets; runs in flight fail.
func (e *Env) Close() error {
	e.conn.close()
	return e.pinger.Close()
}

// Normalize returns d with defaults filled in and the target override
// applied: Target is where the check connects, Settings.Address and
// Settings.Port are cleared. Two definitions that check the same thing the
// same way normalize to equal values.
func (d Definition) Normalize() Definition {
	n := d
	n.Settings = d.Settings.WithDefaults()
	addr, port := d.Target.Addr(), d.Target.Port()
	if n.Settings.Address.IsValid() {
		addr = n.Settings.Address
	}
	if n.Settings.Port != 0 {
		port = n.Settings.Port
	}
	n.Settings.Address, n.Settings.Port = netip.Addr{}, 0
	if d.Spec != nil {
		n.Spec = d.Spec.normalized()
		if n.Spec.Kind() == KindICMP {
			port = 0
		}
	}
	n.Target = netip.AddrPortFrom(addr.Unmap(), port)
	return n
}

// Validate reports what is wrong with d (after defaults), naming the check.
func (d Definition) Validate() error {
	if d.Spec == nil {
		return fmt.Errorf("check of %s: no kind given", d.Target)
	}
	n := d.Normalize()
	name := fmt.Sprintf("%s check of %s", n.Spec.Kind(), d.Target)
	if !n.Target.Addr().IsValid() {
		return fmt.Errorf("%s: no target address", name)
	}
	if n.Target.Addr().IsUnspecified() || n.Target.Addr().IsMulticast() {
		return fmt.Errorf("%s: target %s is not a unicast address", name, n.Target.Addr())
	}
	switch n.Spec.Kind() {
	case KindICMP, KindExec:
	default:
		if n.Target.Port() == 0 {
			return fmt.Errorf("%s: no port to check (give the real server a port or set port)", name)
		}
	}
	if err := n.Settings.validate(n.Target.Addr()); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := n.Spec.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Key is the identity of a check: its full normalized definition. Two
// definitions with the same key are the same check and run once.
func (d Definition) Key() string {
	n := d.Normalize()
	var kind Kind
	if n.Spec != nil {
		kind = n.Spec.Kind()
	}
	b, err := json.Marshal(struct {
		Kind     Kind
		Target   netip.AddrPort
		Settings Settings
		Spec     Spec
	}{kind, n.Target, n.Settings, n.Spec})
	if err != nil {
		// Only plain data is marshalled, so this does not happen; should
		// a spec ever hold something JSON cannot encode, Go's own syntax
		// still identifies it.
		return fmt.Sprintf("%s %s %#v %#v", kind, n.Target, n.Settings, n.Spec)
	}
	return string(b)
}

// ID is a short, stable name for the check for logs and metrics:
// kind, target and a hash of the full definition ("http 10.0.1.2:80 #3fa2c1d0").
func (d Definition) ID() string {
	return idFor(d.Normalize(), d.Key())
}

func idFor(n Definition, key string) string {
	sum := sha256.Sum256([]byte(key))
	target := n.Target.String()
	if n.Target.Port() == 0 {
		target = n.Target.Addr().String()
	}
	kind := Kind("none")
	if n.Spec != nil {
		kind = n.Spec.Kind()
	}
	return fmt.Sprintf("%s %s #%s", kind, target, hex.EncodeToString(sum[:4]))
}

// Build validates d and returns a Check that runs it, sharing env's
// sockets. env may be nil for every kind but icmp.
func Build(d Definition, env *Env) (Check, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	n := d.Normalize()
	if n.Spec.Kind() == KindICMP && env == nil {
		return nil, fmt.Errorf("icmp check of %s: no Env for the shared ICMP sockets", d.Target)
	}
	c, err := n.Spec.build(n.Target, n.Settings, env)
	if err != nil {
		return nil, fmt.Errorf("%s check of %s: %w", n.Spec.Kind(), d.Target, err)
	}
	return c, nil
}
