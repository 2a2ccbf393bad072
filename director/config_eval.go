package director

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder evaluates attributes in one evaluation context and collects the
// diagnostics of a whole load, so that every mistake is reported at once.
// Each helper returns ok=false when the attribute is absent, null, or
// invalid (in which case a diagnostic was recorded); callers then keep the
// default and go on.
type decoder struct {
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	// lastNull tells that the last eval found a null value.
	lastNull bool
	// svcRanges are where each service of a virtual server is written,
	// for the configuration-wide duplicate check.
	svcRanges map[*VirtualServer][]hcl.Range
	// vipRanges are where each VRRP virtual address is written.
	vipRanges map[vipKey]hcl.Range
}

func (d *decoder) add(sev hcl.DiagnosticSeverity, subject hcl.Range, context *hcl.Range, summary, detail string) {
	s := subject
	if context != nil {
		c := *context
		context = &c
	}
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: sev,
		Summary:  summary,
		Detail:   detail,
		Subject:  &s,
		Context:  context,
	})
}

// errAt records an error pointing at rng.
func (d *decoder) errAt(rng hcl.Range, summary, format string, args ...any) {
	d.add(hcl.DiagError, rng, nil, summary, fmt.Sprintf(format, args...))
}

// warnAt records a warning pointing at rng.
func (d *decoder) warnAt(rng hcl.Range, summary, format string, args ...any) {
	d.add(hcl.DiagWarning, rng, nil, summary, fmt.Sprintf(format, args...))
}

// errAttr records an error pointing at a's value, with the whole attribute
// as context.
func (d *decoder) errAttr(a *hcl.Attribute, summary, format string, args ...any) {
	d.attrDiag(hcl.DiagError, a, summary, fmt.Sprintf(format, args...))
}

func (d *decoder) warnAttr(a *hcl.Attribute, summary, format string, args ...any) {
	d.attrDiag(hcl.DiagWarning, a, summary, fmt.Sprintf(format, args...))
}

// attrDiag records a diagnostic on a's value, with the whole attribute as
// context and the expression, so that the text writer shows the values of
// the variables it uses ("with var.vip as ...").
func (d *decoder) attrDiag(sev hcl.DiagnosticSeverity, a *hcl.Attribute, summary, detail string) {
	d.add(sev, a.Expr.Range(), &a.Range, summary, detail)
	last := d.diags[len(d.diags)-1]
	last.Expression, last.EvalContext = a.Expr, d.ctx
}

// eval evaluates a and converts it to ty. A null value counts as unset.
func (d *decoder) eval(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	d.lastNull = false
	if a == nil {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		d.lastNull = true
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		// Only a variable that failed to evaluate yields unknown values,
		// and that failure is already reported.
		if !d.diags.HasErrors() {
			d.errAttr(a, "Unknown value", "The value of %s cannot be known at load time.", a.Name)
		}
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errAttr(a, "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", a.Name, err)
		return cty.NilVal, false
	}
	return cv, true
}

// missing reports a required attribute that is absent, at the block that
// lacks it, as HCL words it.
func (d *decoder) missing(a *hcl.Attribute, name string, block hcl.Range) bool {
	if a != nil {
		return false
	}
	d.errAt(block, "Missing required argument", "The argument %q is required, but no definition was found.", name)
	return true
}

// required reports a missing value for an attribute the schema requires
// (gohcl already reports an absent one; this catches `x = null`).
func (d *decoder) required(a *hcl.Attribute, ok bool) bool {
	if a != nil && !ok && d.lastNull {
		d.errAttr(a, "Missing value", "%s is required and cannot be null.", a.Name)
	}
	return ok
}

func (d *decoder) str(a *hcl.Attribute) (string, bool) {
	v, ok := d.eval(a, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) boolean(a *hcl.Attribute) (bool, bool) {
	v, ok := d.eval(a, cty.Bool)
	if !ok {
		return false, false
	}
	return v.True(), true
}

// integer evaluates a whole number within [min, max].
func (d *decoder) integer(a *hcl.Attribute, min, max int64) (int64, bool) {
	v, ok := d.eval(a, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errAttr(a, "Invalid value", "%s must be a whole number, not %s.", a.Name, bf.Text('g', 10))
		return 0, false
	}
	if bf.Cmp(new(big.Float).SetInt64(min)) < 0 || bf.Cmp(new(big.Float).SetInt64(max)) > 0 {
		d.errAttr(a, "Value out of range", "%s must be between %d and %d, not %s.", a.Name, min, max, bf.Text('f', 0))
		return 0, false
	}
	i, _ := bf.Int64()
	return i, true
}

// strList evaluates a list of strings, with the range of each element when
// it is written as a literal list (the attribute's range otherwise).
func (d *decoder) strList(a *hcl.Attribute) ([]string, []hcl.Range, bool) {
	v, ok := d.eval(a, cty.List(cty.String))
	if !ok {
		return nil, nil, false
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errAttr(a, "Invalid value", "%s must not contain null.", a.Name)
			return nil, nil, false
		}
		out = append(out, e.AsString())
	}
	return out, elemRanges(a.Expr, len(out)), true
}

// strMap evaluates a map of strings.
func (d *decoder) strMap(a *hcl.Attribute) (map[string]string, bool) {
	v, ok := d.eval(a, cty.Map(cty.String))
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			d.errAttr(a, "Invalid value", "%s: %q must not be null.", a.Name, k.AsString())
			return nil, false
		}
		out[k.AsString()] = e.AsString()
	}
	return out, true
}

// elemRanges returns the source range of each of n elements of a list
// expression: exact for a literal list, the whole expression otherwise
// (a for-expression, a variable, a function call).
func elemRanges(expr hcl.Expression, n int) []hcl.Range {
	inner := hcl.UnwrapExpressionUntil(expr, func(e hcl.Expression) bool {
		_, ok := e.(*hclsyntax.TupleConsExpr)
		return ok
	})
	out := make([]hcl.Range, n)
	if t, ok := inner.(*hclsyntax.TupleConsExpr); ok && len(t.Exprs) == n {
		for i, e := range t.Exprs {
			out[i] = e.Range()
		}
		return out
	}
	for i := range out {
		out[i] = expr.Range()
	}
	return out
}

// duration evaluates a Go duration string ("1s", "250ms", "1m30s")
// within [min, max].
func (d *decoder) duration(a *hcl.Attribute, min, max time.Duration) (time.Duration, bool) {
	s, ok := d.str(a)
	if !ok {
		return 0, false
	}
	v, err := parseDuration(s)
	if err != nil {
		d.errAttr(a, "Invalid duration", "%s: %v.", a.Name, err)
		return 0, false
	}
	if v < min || v > max {
		d.errAttr(a, "Duration out of range", "%s must be between %s and %s, not %s.", a.Name, fmtDur(min), fmtDur(max), s)
		return 0, false
	}
	return v, true
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration (write e.g. \"1s\" or \"250ms\")")
	}
	if strings.TrimLeft(s, "0123456789.") == "" {
		return 0, fmt.Errorf("%q has no unit (write e.g. \"%ss\" or \"%sms\")", s, s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (write e.g. \"1s\", \"250ms\", \"1m30s\")", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return v, nil
}

func fmtDur(v time.Duration) string {
	if v == 0 {
		return "0s"
	}
	return v.String()
}

// addr evaluates an IP address (no zone, no prefix, no port).
func (d *decoder) addr(a *hcl.Attribute) (netip.Addr, bool) {
	s, ok := d.str(a)
	if !ok {
		return netip.Addr{}, false
	}
	ip, err := parseAddr(s)
	if err != nil {
		d.errAttr(a, "Invalid address", "%s: %v.", a.Name, err)
		return netip.Addr{}, false
	}
	return ip, true
}

// parseAddr parses a unicast IP address the way lvsd wants it: no zone,
// IPv4-mapped IPv6 unmapped to IPv4, not unspecified.
func parseAddr(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		if _, perr := netip.ParseAddrPort(s); perr == nil {
			return netip.Addr{}, fmt.Errorf("%q has a port; an address is expected here", s)
		}
		if _, perr := netip.ParsePrefix(s); perr == nil {
			return netip.Addr{}, fmt.Errorf("%q has a prefix length; an address is expected here", s)
		}
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has a zone; zones are not supported", s)
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("%q is the unspecified address", s)
	}
	return ip, nil
}

// parseHostPort parses "IP", "IP:port", "[IPv6]:port" or "[IPv6]". The
// port is 0 when absent; hasPort tells whether it was written.
func parseHostPort(s string) (ip netip.Addr, port uint16, hasPort bool, err error) {
	s = strings.TrimSpace(s)
	if ap, perr := netip.ParseAddrPort(s); perr == nil {
		if ap.Addr().Zone() != "" {
			return ip, 0, false, fmt.Errorf("%q has a zone; zones are not supported", s)
		}
		ip = ap.Addr().Unmap()
		if ip.IsUnspecified() {
			return ip, 0, false, fmt.Errorf("%q is the unspecified address", s)
		}
		return ip, ap.Port(), true, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	ip, err = parseAddr(s)
	if err != nil {
		if i := strings.LastIndexByte(s, ':'); i > 0 && strings.Count(s, ":") == 1 {
			if _, aerr := netip.ParseAddr(s[:i]); aerr == nil {
				return ip, 0, false, fmt.Errorf("%q has an invalid port (want 0 to 65535)", s)
			}
		}
		if strings.Contains(s, "/") {
			return ip, 0, false, fmt.Errorf("%q has a prefix length; write an address with an optional :port", s)
		}
		return ip, 0, false, fmt.Errorf("%q is not an address or address:port (IPv6 with a port is written [2001:db8::1]:80)", s)
	}
	return ip, 0, false, nil
}

// suggest returns " Did you mean "x"?" when given is close to a candidate.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3 // HCL's own threshold for suggestions
	for _, c := range candidates {
		if dist := levenshtein.Distance(strings.ToLower(given), c, nil); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// oneOf checks that s is one of the allowed values (lower-cased).
func (d *decoder) oneOf(a *hcl.Attribute, s string, allowed ...string) (string, bool) {
	l := strings.ToLower(s)
	for _, v := range allowed {
		if l == v {
			return v, true
		}
	}
	d.errAttr(a, "Invalid value", "%s must be one of %s, not %q.%s", a.Name, quoteList(allowed), s, suggest(s, allowed))
	return "", false
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// posString renders a range as file:line:col for "first declared at"
// details.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
