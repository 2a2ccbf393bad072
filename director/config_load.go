package director

import (
	"fmt"
	"io"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// MaxConfigFileSize bounds each configuration file read, so that a wrong
// path (a log, a device) fails fast instead of being parsed.
const MaxConfigFileSize = 16 << 20

// LoadConfig reads the configuration at path: one HCL file, or a
// directory whose *.hcl files (not recursive) are read in name order and
// decoded as one configuration, sharing variables and locals. vars
// overrides variable defaults (`-var name=value`).
//
// The returned Config is nil when the diagnostics hold an error; warnings
// may come with a valid Config. Diagnostics are sorted by position; render
// them with WriteDiagnostics.
func LoadConfig(path string, vars map[string]string) (*Config, hcl.Diagnostics) {
	names, err := configFiles(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   err.Error(),
		}}
	}
	srcs := make([]Source, 0, len(names))
	for _, name := range names {
		b, err := readLimited(name)
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration",
				Detail:   err.Error(),
			}}
		}
		srcs = append(srcs, Source{Filename: name, Bytes: b})
	}
	return ParseSources(srcs, vars)
}

// configFiles lists the files LoadConfig reads for path.
func configFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	names, err := filepath.Glob(filepath.Join(path, "*.hcl"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: directory has no *.hcl file", path)
	}
	return names, nil
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxConfigFileSize {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit for a configuration file", name, MaxConfigFileSize)
	}
	return b, nil
}

// Source is one configuration file's name and content.
type Source struct {
	Filename string
	Bytes    []byte
}

// ParseConfig decodes one configuration file's content; filename is used
// in diagnostics only.
func ParseConfig(src []byte, filename string, vars map[string]string) (*Config, hcl.Diagnostics) {
	return ParseSources([]Source{{Filename: filename, Bytes: src}}, vars)
}

// ParseSources decodes several files as one configuration, as LoadConfig
// does for a directory.
func ParseSources(srcs []Source, vars map[string]string) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	files := make([]*hcl.File, 0, len(srcs))
	for _, s := range srcs {
		f, fd := hclsyntax.ParseConfig(s.Bytes, s.Filename, hcl.InitialPos)
		diags = append(diags, fd...)
		if f != nil {
			files = append(files, f)
		}
	}
	if diags.HasErrors() {
		// A syntax error leaves a partial file whose decoding would add
		// confusing follow-up errors.
		return nil, sortDiags(diags)
	}
	cfg, dd := decodeFiles(files, vars)
	diags = append(diags, dd...)
	for _, s := range srcs {
		if cfg != nil {
			cfg.Files = append(cfg.Files, s.Filename)
		}
	}
	if diags.HasErrors() {
		cfg = nil
	}
	return cfg, sortDiags(diags)
}

// sortDiags orders diagnostics by file and position (those without a
// position first), keeping the order of equal positions, and drops exact
// repeats (a dynamic block repeats its content's mistakes once per
// element).
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := map[key]bool{}
	uniq := diags[:0]
	for _, diag := range diags {
		k := key{diag.Severity, diag.Summary, diag.Detail, hcl.Range{}}
		if diag.Subject != nil {
			k.subject = *diag.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		uniq = append(uniq, diag)
	}
	diags = uniq
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}

func decodeFiles(files []*hcl.File, vars map[string]string) (*Config, hcl.Diagnostics) {
	body := hcl.MergeFiles(files)
	d := &decoder{svcRanges: map[*VirtualServer][]hcl.Range{}, vipRanges: map[vipKey]hcl.Range{}}
	d.ctx = d.evalContext(body, vars)

	expanded := dynblock.Expand(body, d.ctx)
	var raw rawRoot
	d.diags = append(d.diags, gohcl.DecodeBody(expanded, d.ctx, &raw)...)
	cfg := d.decodeRoot(&raw)
	return cfg, d.diags
}

// evalContext runs the first pass: variables (defaults overridden by
// vars), then locals in dependency order, and returns the context every
// other expression is evaluated in.
func (d *decoder) evalContext(body hcl.Body, vars map[string]string) *hcl.EvalContext {
	content, _, diags := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
	}})
	d.diags = append(d.diags, diags...)

	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{},
		Functions: configFunctions(),
	}
	varVals := map[string]cty.Value{}
	declared := map[string]hcl.Range{}
	var localAttrs []*hcl.Attribute
	localDecl := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "variable":
			var rv rawVariable
			d.diags = append(d.diags, gohcl.DecodeBody(b.Body, nil, &rv)...)
			rv.Name, rv.LabelRange, rv.DefRange = b.Labels[0], b.LabelRanges[0], b.DefRange
			if prev, dup := declared[rv.Name]; dup {
				d.errAt(rv.LabelRange, "Duplicate variable", "Variable %q is already declared at %s.", rv.Name, posString(prev))
				continue
			}
			declared[rv.Name] = rv.LabelRange
			varVals[rv.Name] = d.variable(&rv, vars)
		case "locals":
			attrs, ad := b.Body.JustAttributes()
			d.diags = append(d.diags, ad...)
			for _, a := range sortedAttrs(attrs) {
				if prev, dup := localDecl[a.Name]; dup {
					d.errAt(a.NameRange, "Duplicate local value", "Local value %q is already defined at %s.", a.Name, posString(prev))
					continue
				}
				localDecl[a.Name] = a.NameRange
				localAttrs = append(localAttrs, a)
			}
		}
	}
	for _, name := range sortedKeys(vars) {
		if _, ok := declared[name]; !ok {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undeclared variable",
				Detail:   fmt.Sprintf("A value was given for variable %q, which the configuration does not declare (add a variable %q block).%s", name, name, suggest(name, sortedKeys(declared))),
			})
		}
	}
	ctx.Variables["var"] = cty.ObjectVal(varVals)
	ctx.Variables["local"] = d.locals(ctx, localAttrs)
	return ctx
}

// variable returns a variable's value: the override from vars if given
// (parsed as an HCL expression unless the type is string or unspecified),
// else its default.
func (d *decoder) variable(rv *rawVariable, vars map[string]string) cty.Value {
	if !hclsyntax.ValidIdentifier(rv.Name) {
		d.errAt(rv.LabelRange, "Invalid variable name", "%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", rv.Name)
	}
	ty := cty.DynamicPseudoType
	if rv.Type != nil {
		t, td := typeexpr.TypeConstraint(rv.Type.Expr)
		d.diags = append(d.diags, td...)
		if td.HasErrors() {
			return cty.DynamicVal
		}
		ty = t
	}
	if rv.Description != nil {
		d.str(rv.Description)
	}
	if s, given := vars[rv.Name]; given {
		if ty == cty.String || ty == cty.DynamicPseudoType {
			return cty.StringVal(s)
		}
		expr, pd := hclsyntax.ParseExpression([]byte(s), fmt.Sprintf("<value for var.%s>", rv.Name), hcl.InitialPos)
		if pd.HasErrors() {
			d.errAt(rv.LabelRange, "Invalid value for variable", "The value given for variable %q (%q) is not a valid %s: %s.", rv.Name, s, ty.FriendlyName(), pd.Errs()[0].Error())
			return cty.DynamicVal
		}
		v, vd := expr.Value(nil)
		if vd.HasErrors() {
			d.errAt(rv.LabelRange, "Invalid value for variable", "The value given for variable %q (%q) is not a %s: for a variable of this type the value is written as in HCL (e.g. 3, true, [\"a\", \"b\"], {k = \"v\"}).", rv.Name, s, ty.FriendlyName())
			return cty.DynamicVal
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			d.errAt(rv.LabelRange, "Invalid value for variable", "The value given for variable %q (%q) is not a %s: %s.", rv.Name, s, ty.FriendlyName(), err)
			return cty.DynamicVal
		}
		return cv
	}
	if rv.Default == nil {
		d.errAt(rv.DefRange, "No value for required variable", "Variable %q has no default and no value was given: set one with -var %s=VALUE.", rv.Name, rv.Name)
		return cty.DynamicVal
	}
	v, vd := rv.Default.Expr.Value(nil)
	d.diags = append(d.diags, vd...)
	if vd.HasErrors() {
		return cty.DynamicVal
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errAttr(rv.Default, "Invalid default value for variable", "The default of variable %q is not a %s: %s.", rv.Name, ty.FriendlyName(), err)
		return cty.DynamicVal
	}
	return cv
}

// locals evaluates local values, each once its references to other
// locals are known; what remains is a cycle.
func (d *decoder) locals(ctx *hcl.EvalContext, attrs []*hcl.Attribute) cty.Value {
	vals := map[string]cty.Value{}
	pending := map[string]*hcl.Attribute{}
	for _, a := range attrs {
		pending[a.Name] = a
	}
	for len(pending) > 0 {
		progress := false
		for _, a := range attrs {
			if _, ok := pending[a.Name]; !ok || !localReady(a, pending) {
				continue
			}
			ctx.Variables["local"] = cty.ObjectVal(vals)
			v, vd := a.Expr.Value(ctx)
			d.diags = append(d.diags, vd...)
			if vd.HasErrors() {
				v = cty.DynamicVal
			}
			vals[a.Name] = v
			delete(pending, a.Name)
			progress = true
		}
		if progress {
			continue
		}
		for _, a := range attrs {
			if _, ok := pending[a.Name]; ok {
				d.errAt(a.NameRange, "Local value cycle", "local.%s depends on itself through other local values.", a.Name)
				vals[a.Name] = cty.DynamicVal
			}
		}
		break
	}
	return cty.ObjectVal(vals)
}

func localReady(a *hcl.Attribute, pending map[string]*hcl.Attribute) bool {
	for _, t := range a.Expr.Variables() {
		if t.RootName() != "local" || len(t) < 2 {
			continue
		}
		if at, ok := t[1].(hcl.TraverseAttr); ok {
			if _, waiting := pending[at.Name]; waiting {
				return false
			}
		}
	}
	return true
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// maxRangeElements bounds the elements all range() calls of one load may
// produce, so that nested for-expressions cannot make a load run away.
const maxRangeElements = 1 << 16

// configFunctions are the functions expressions may call: Terraform's
// names and semantics for the usual string, collection and number
// functions, plus cidrhost.
func configFunctions() map[string]function.Function {
	budget := maxRangeElements
	rangeFn := function.New(&function.Spec{
		Description: stdlib.RangeFunc.Description(),
		VarParam:    stdlib.RangeFunc.VarParam(),
		Type:        function.StaticReturnType(cty.List(cty.Number)),
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			if budget < 0 {
				// Reported once; an unknown value makes the enclosing
				// for-expressions stop at once instead of iterating on.
				return cty.UnknownVal(retType), nil
			}
			v, err := stdlib.RangeFunc.Call(args)
			if err != nil {
				return cty.NilVal, err
			}
			budget -= v.LengthInt()
			if budget < 0 {
				return cty.NilVal, fmt.Errorf("range() produced more than %d values in this configuration", maxRangeElements)
			}
			return v, nil
		},
	})
	return map[string]function.Function{
		"abs":          stdlib.AbsoluteFunc,
		"can":          tryfunc.CanFunc,
		"ceil":         stdlib.CeilFunc,
		"chomp":        stdlib.ChompFunc,
		"chunklist":    stdlib.ChunklistFunc,
		"cidrhost":     cidrhostFunc,
		"coalesce":     stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc,
		"compact":      stdlib.CompactFunc,
		"concat":       stdlib.ConcatFunc,
		"contains":     stdlib.ContainsFunc,
		"distinct":     stdlib.DistinctFunc,
		"element":      stdlib.ElementFunc,
		"flatten":      stdlib.FlattenFunc,
		"floor":        stdlib.FloorFunc,
		"format":       stdlib.FormatFunc,
		"formatlist":   stdlib.FormatListFunc,
		"index":        stdlib.IndexFunc,
		"join":         stdlib.JoinFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		"keys":         stdlib.KeysFunc,
		"length":       stdlib.LengthFunc,
		"lookup":       stdlib.LookupFunc,
		"lower":        stdlib.LowerFunc,
		"max":          stdlib.MaxFunc,
		"merge":        stdlib.MergeFunc,
		"min":          stdlib.MinFunc,
		"parseint":     stdlib.ParseIntFunc,
		"range":        rangeFn,
		"regex":        stdlib.RegexFunc,
		"regexall":     stdlib.RegexAllFunc,
		"replace":      stdlib.ReplaceFunc,
		"reverse":      stdlib.ReverseListFunc,
		"signum":       stdlib.SignumFunc,
		"slice":        stdlib.SliceFunc,
		"sort":         stdlib.SortFunc,
		"split":        stdlib.SplitFunc,
		"strlen":       stdlib.StrlenFunc,
		"substr":       stdlib.SubstrFunc,
		"title":        stdlib.TitleFunc,
		"tobool":       stdlib.MakeToFunc(cty.Bool),
		"tolist":       stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":        stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":     stdlib.MakeToFunc(cty.Number),
		"toset":        stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":     stdlib.MakeToFunc(cty.String),
		"trim":         stdlib.TrimFunc,
		"trimprefix":   stdlib.TrimPrefixFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"try":          tryfunc.TryFunc,
		"upper":        stdlib.UpperFunc,
		"values":       stdlib.ValuesFunc,
		"zipmap":       stdlib.ZipmapFunc,
	}
}

// cidrhostFunc is Terraform's cidrhost(prefix, hostnum): the hostnum-th
// address of prefix; a negative hostnum counts from the end.
var cidrhostFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "prefix", Type: cty.String},
		{Name: "hostnum", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := netip.ParsePrefix(args[0].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "%q is not a prefix (write e.g. \"10.0.1.0/24\")", args[0].AsString())
		}
		bf := args[1].AsBigFloat()
		if !bf.IsInt() {
			return cty.NilVal, function.NewArgErrorf(1, "hostnum must be a whole number")
		}
		n, _ := bf.Int(nil)
		p = p.Masked()
		hostBits := p.Addr().BitLen() - p.Bits()
		size := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
		if n.Sign() < 0 {
			n.Add(n, size)
		}
		if n.Sign() < 0 || n.Cmp(size) >= 0 {
			return cty.NilVal, function.NewArgErrorf(1, "prefix %s has no host number %s", p, bf.Text('f', 0))
		}
		base := new(big.Int).SetBytes(p.Addr().AsSlice())
		base.Add(base, n)
		b := base.FillBytes(make([]byte, p.Addr().BitLen()/8))
		ip, _ := netip.AddrFromSlice(b)
		return cty.StringVal(ip.String()), nil
	},
})
