package kaconf

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// The conversion builds a small ordered tree of HCL blocks and attributes
// first, so that later steps can still look at and change what was built
// (hoist identical checks to the virtual server, rename references), and
// renders it with hclwrite at the end.

type hblock struct {
	typ      string
	labels   []string
	comments []string // lines above the block, without "# "
	items    []*hitem
}

type hitem struct {
	name     string // attribute name; empty for a block
	val      cty.Value
	comments []string
	trail    string // a comment at the end of the attribute's line
	blk      *hblock
	// multiline renders a list one element per line.
	multiline bool
}

func newBlock(typ string, labels ...string) *hblock {
	return &hblock{typ: typ, labels: labels}
}

// set adds or replaces an attribute, keeping its place when it exists.
func (b *hblock) set(name string, v cty.Value, comments ...string) *hitem {
	if it := b.attr(name); it != nil {
		it.val = v
		it.comments = append(it.comments, comments...)
		return it
	}
	it := &hitem{name: name, val: v, comments: comments}
	b.items = append(b.items, it)
	return it
}

func (b *hblock) setString(name, s string, comments ...string) *hitem {
	return b.set(name, str(s), comments...)
}

func (b *hblock) setInt(name string, n int64, comments ...string) *hitem {
	return b.set(name, cty.NumberIntVal(n), comments...)
}

func (b *hblock) setBool(name string, v bool, comments ...string) *hitem {
	return b.set(name, cty.BoolVal(v), comments...)
}

func (b *hblock) setDuration(name string, d time.Duration, comments ...string) *hitem {
	return b.set(name, str(fmtDuration(d)), comments...)
}

func (b *hblock) setStrings(name string, list []string, comments ...string) *hitem {
	vals := make([]cty.Value, len(list))
	for i, s := range list {
		vals[i] = str(s)
	}
	v := cty.ListValEmpty(cty.String)
	if len(vals) > 0 {
		v = cty.TupleVal(vals)
	}
	return b.set(name, v, comments...)
}

// note sets the comment at the end of the attribute's line.
func (it *hitem) note(s string) *hitem {
	it.trail = s
	return it
}

// attr returns the attribute named name, or nil.
func (b *hblock) attr(name string) *hitem {
	for _, it := range b.items {
		if it.name == name {
			return it
		}
	}
	return nil
}

// add appends a block.
func (b *hblock) add(c *hblock) *hblock {
	b.items = append(b.items, &hitem{blk: c})
	return c
}

// key renders the block's content (not its comments) for comparisons.
func (b *hblock) key() string {
	var sb strings.Builder
	sb.WriteString(b.typ)
	for _, l := range b.labels {
		sb.WriteString(" " + l)
	}
	sb.WriteString("{")
	for _, it := range b.items {
		if it.blk != nil {
			sb.WriteString(it.blk.key())
			continue
		}
		sb.WriteString(it.name + "=" + string(hclwrite.TokensForValue(it.val).Bytes()) + ";")
	}
	sb.WriteString("}")
	return sb.String()
}

// str makes a cty string of any Go string (invalid UTF-8 replaced, as
// HCL files are UTF-8).
func str(s string) cty.Value {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return cty.StringVal(s)
}

// fmtDuration writes a duration as lvsd reads it: "5s", "250ms", "1m30s".
func fmtDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// render writes the tree as formatted HCL.
func render(root *hblock) []byte {
	f := hclwrite.NewEmptyFile()
	writeComments(f.Body(), root.comments)
	if len(root.comments) > 0 {
		f.Body().AppendNewline()
	}
	writeItems(f.Body(), root.items, true)
	out := hclwrite.Format(f.Bytes())
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

func writeItems(body *hclwrite.Body, items []*hitem, top bool) {
	// Attributes first, then blocks, each in the order they were added.
	sorted := make([]*hitem, 0, len(items))
	for _, it := range items {
		if it.blk == nil {
			sorted = append(sorted, it)
		}
	}
	for _, it := range items {
		if it.blk != nil {
			sorted = append(sorted, it)
		}
	}
	items = sorted
	for i, it := range items {
		if it.blk != nil {
			if i > 0 {
				body.AppendNewline()
			}
			writeComments(body, it.blk.comments)
			if len(it.blk.items) == 0 {
				body.AppendUnstructuredTokens(emptyBlockTokens(it.blk))
				continue
			}
			nb := body.AppendNewBlock(it.blk.typ, it.blk.labels)
			writeItems(nb.Body(), it.blk.items, false)
			continue
		}
		if i > 0 && top && items[i-1].blk != nil {
			body.AppendNewline()
		}
		writeComments(body, it.comments)
		var toks hclwrite.Tokens
		if it.multiline || needsMultiline(it.val) {
			toks = multilineTokens(it.val)
		} else {
			toks = hclwrite.TokensForValue(it.val)
		}
		if it.trail != "" {
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComment, Bytes: []byte("# " + oneLine(it.trail)), SpacesBefore: 1})
		}
		body.SetAttributeRaw(it.name, toks)
	}
}

func writeComments(body *hclwrite.Body, lines []string) {
	for _, l := range lines {
		body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# " + oneLine(l) + "\n")}})
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
	return strings.TrimRight(strings.ToValidUTF8(s, "\uFFFD"), " ")
}

// emptyBlockTokens renders `type "label" {}` on one line (hclwrite would
// write the braces on two).
func emptyBlockTokens(b *hblock) hclwrite.Tokens {
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(b.typ)}}
	for _, l := range b.labels {
		toks = append(toks, hclwrite.TokensForValue(str(l))...)
	}
	return append(toks,
		&hclwrite.Token{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")},
		&hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")},
		&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
}

// needsMultiline is true for a list too long to read on one line, or one
// that holds objects.
func needsMultiline(v cty.Value) bool {
	ty := v.Type()
	if !ty.IsTupleType() && !ty.IsListType() {
		return false
	}
	n, width := 0, 0
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		n++
		if !e.Type().IsPrimitiveType() {
			return true
		}
		width += len(hclwrite.TokensForValue(e).Bytes()) + 2
	}
	return width > 80
}

// multilineTokens renders a list with one element per line.
func multilineTokens(v cty.Value) hclwrite.Tokens {
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
		{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		toks = append(toks, valueTokens(e)...)
		toks = append(toks,
			&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")},
			&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// valueTokens renders an object on one line ({ address = "...", interface
// = "eth1" }), anything else as hclwrite does.
func valueTokens(v cty.Value) hclwrite.Tokens {
	if !v.Type().IsObjectType() {
		return hclwrite.TokensForValue(v)
	}
	names := make([]string, 0)
	for k := range v.Type().AttributeTypes() {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		// address first, then the rest by name.
		if (names[i] == "address") != (names[j] == "address") {
			return names[i] == "address"
		}
		return names[i] < names[j]
	})
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}}
	for i, k := range names {
		if i > 0 {
			toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")})
		}
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenIdent, Bytes: []byte(k), SpacesBefore: 1})
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenEqual, Bytes: []byte("="), SpacesBefore: 1})
		val := hclwrite.TokensForValue(v.GetAttr(k))
		if len(val) > 0 {
			val[0].SpacesBefore = 1
		}
		toks = append(toks, val...)
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}"), SpacesBefore: 1})
}
