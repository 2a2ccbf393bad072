package checkers

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ From, To int }

// StatusCodes is a set of HTTP status codes as ranges, written like
// keepalived's status_code: "200-299", "200 301 302", "200-299,404".
type StatusCodes []StatusRange

// DefaultStatus is what an HTTP check accepts unless told otherwise.
var DefaultStatus = StatusCodes{{200, 299}}

// ParseStatusCodes parses codes and ranges separated by commas or spaces.
// Codes must be in 100..599 and ranges ascending.
func ParseStatusCodes(s string) (StatusCodes, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return nil, fmt.Errorf("status codes %q: empty", s)
	}
	var out StatusCodes
	for _, f := range fields {
		lo, hi, isRange := strings.Cut(f, "-")
		from, err := parseStatus(lo)
		if err != nil {
			return nil, fmt.Errorf("status codes %q: %w", s, err)
		}
		to := from
		if isRange {
			if to, err = parseStatus(hi); err != nil {
				return nil, fmt.Errorf("status codes %q: %w", s, err)
			}
			if to < from {
				return nil, fmt.Errorf("status codes %q: range %s is descending", s, f)
			}
		}
		out = append(out, StatusRange{from, to})
	}
	return out, nil
}

func parseStatus(s string) (int, error) {
	if len(s) != 3 {
		return 0, fmt.Errorf("%q is not a three-digit status code", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%q is not a status code in 100..599", s)
	}
	return n, nil
}

// Contains reports whether code is in the set.
func (c StatusCodes) Contains(code int) bool {
	for _, r := range c {
		if code >= r.From && code <= r.To {
			return true
		}
	}
	return false
}

func (c StatusCodes) String() string {
	var b strings.Builder
	for i, r := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r.From))
		if r.To != r.From {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.To))
		}
	}
	return b.String()
}

// Validate reports a range outside 100..599 or upside down.
func (c StatusCodes) Validate() error {
	for _, r := range c {
		if r.From < 100 || r.To > 599 || r.To < r.From {
			return fmt.Errorf("status range %d-%d is not within 100..599 and ascending", r.From, r.To)
		}
	}
	return nil
}

// MarshalText writes the canonical form, so definitions key by meaning.
func (c StatusCodes) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText accepts what ParseStatusCodes accepts.
func (c *StatusCodes) UnmarshalText(b []byte) error {
	v, err := ParseStatusCodes(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
