package checkers

import (
	"fmt"
	"net/netip"
	"time"
)

// Settings are what every kind of check shares. The zero value of each
// field means its default (see WithDefaults); docs/checks.md lists them with
// their keepalived equivalents.
type Settings struct {
	// Interval between two checks of a target in a steady state.
	// Default 2s. (keepalived: delay_loop, default 60s.)
	Interval time.Duration
	// RetryInterval is used instead of Interval while a verdict is in
	// doubt: after a failure while up, or a success while down.
	// Default: Interval. (keepalived: delay_before_retry.)
	RetryInterval time.Duration
	// Timeout for one check: connect, request and reply together (the
	// whole run of the command for exec). Default 2s, or Interval if that
	// is shorter. (keepalived: connect_timeout, misc_timeout.)
	Timeout time.Duration
	// Rise is how many consecutive successes bring a down target up.
	// Default 2. (keepalived: 1.)
	Rise int
	// Fall is how many consecutive failures bring an up target down.
	// Default 3. (keepalived: retry + 1.)
	Fall int
	// Warmup spreads first checks: the first one runs at a random time in
	// [0, Warmup). Zero means Interval; negative means at once.
	// (keepalived: warmup, default delay_loop; 0 there disables it.)
	Warmup time.Duration
	// StartDown makes a new check start down, so the target needs Rise
	// successes before it takes traffic. Default: start up.
	// (keepalived: alpha.)
	StartDown bool
	// Source is the local address checks are sent from. Default: the
	// kernel's choice. (keepalived: bindto.)
	Source netip.Addr `json:",omitzero"`
	// Interface binds checks to a network interface (SO_BINDTODEVICE;
	// the outgoing interface for icmp). (keepalived: bind_if.)
	Interface string `json:",omitempty"`
	// Address and Port override where the check connects, e.g. to check a
	// status port instead of the one served. Default: the real server's.
	// (keepalived: connect_ip, connect_port.)
	Address netip.Addr `json:",omitzero"`
	Port    uint16     `json:",omitempty"`
}

// Defaults, as WithDefaults applies them.
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = 2 * time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// WithDefaults returns s with every zero field set to its default.
func (s Settings) WithDefaults() Settings {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.RetryInterval == 0 {
		s.RetryInterval = s.Interval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	if s.Warmup == 0 {
		s.Warmup = s.Interval
	}
	if s.Warmup < 0 {
		s.Warmup = -1
	}
	if s.Source.IsValid() {
		s.Source = s.Source.Unmap()
	}
	if s.Address.IsValid() {
		s.Address = s.Address.Unmap()
	}
	return s
}

// Limits that keep a typo from turning into a flood or a check that never
// concludes.
const (
	minInterval = 10 * time.Millisecond
	maxCount    = 1000 // as the configuration allows
)

// validate checks settings that already have their defaults, for a check
// of target.
func (s Settings) validate(target netip.Addr) error {
	switch {
	case s.Interval < minInterval:
		return fmt.Errorf("interval %v is shorter than %v", s.Interval, minInterval)
	case s.RetryInterval < minInterval:
		return fmt.Errorf("retry interval %v is shorter than %v", s.RetryInterval, minInterval)
	case s.Timeout < 0:
		return fmt.Errorf("timeout %v is negative", s.Timeout)
	case s.Rise < 1 || s.Rise > maxCount:
		return fmt.Errorf("rise %d is not in 1..%d", s.Rise, maxCount)
	case s.Fall < 1 || s.Fall > maxCount:
		return fmt.Errorf("fall %d is not in 1..%d", s.Fall, maxCount)
	}
	if s.Source.IsValid() && target.IsValid() && s.Source.Is4() != target.Is4() {
		return fmt.Errorf("source %s and target %s are of different address families", s.Source, target)
	}
	if len(s.Interface) > 15 {
		return fmt.Errorf("interface name %q is longer than 15 bytes", s.Interface)
	}
	return nil
}
