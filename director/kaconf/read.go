package kaconf

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The reader turns keepalived configuration files into logical lines, as
// keepalived's read_line() does: comments removed, conditional lines
// (@ID) filtered, $NAME parameters defined and substituted, includes
// followed, and every '{' and '}' outside double quotes split onto a line
// of its own. Each logical line keeps the file and line it came from.

// Pos is a place in a keepalived configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("line %d", p.Line)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Limits that keep a hostile or broken configuration from exhausting the
// importer. keepalived has none of them, but no real configuration comes
// close.
const (
	maxIncludeDepth = 32
	maxFiles        = 4096
	maxLines        = 1 << 20 // logical lines, after includes and expansions
	maxLineLen      = 1 << 16 // bytes of one line after parameter substitution
	maxExpansions   = 1000    // substitutions in one line
	maxBraceGlobs   = 256     // patterns from one include's brace expansion
)

// line is one logical line.
type line struct {
	pos  Pos
	text string
}

// definition is a $NAME parameter.
type definition struct {
	value     string // lines joined with "\n" when multiline
	multiline bool
	builtin   func(r *reader, pos Pos) string
}

type srcFile struct {
	name  string // as opened: the main path, or the include joined with its directory
	lines []string
	next  int
	// rest are the further files the same include matched, read after
	// this one; from is the include line.
	rest []string
	from Pos
}

type reader struct {
	fsys     FileSystem
	configID string // keepalived -i; empty: every @ID line is skipped
	stack    []*srcFile
	// pending are brace residues and multi-line parameter lines still to
	// read, the next one last.
	pending  []line
	defs     map[string]*definition
	defining *definition // a multi-line definition being read
	files    []string
	nlines   int
	diags    *diagnostics
	// condSeen: a conditional line was met (one note says which id was used).
	condSeen bool
}

// diagnostics collects errors and warnings in order.
type diagnostics struct {
	errs  ErrorList
	warns []Warning
}

func (d *diagnostics) errorf(pos Pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (d *diagnostics) warnf(pos Pos, format string, args ...any) {
	d.warns = append(d.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (d *diagnostics) notef(pos Pos, format string, args ...any) {
	d.warns = append(d.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...), Note: true})
}

// Error is a problem that stops the import: the configuration cannot be
// read as keepalived would read it.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every Error of a read, in order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func newReader(fsys FileSystem, configID string, d *diagnostics) *reader {
	r := &reader{fsys: fsys, configID: configID, diags: d, defs: map[string]*definition{}}
	r.defs["_PWD"] = &definition{builtin: func(r *reader, pos Pos) string {
		dir, err := filepath.Abs(filepath.Dir(pos.File))
		if err != nil {
			return filepath.Dir(pos.File)
		}
		return dir
	}}
	r.defs["_INSTANCE"] = &definition{builtin: func(r *reader, pos Pos) string { return r.configID }}
	r.defs["_RANDOM"] = &definition{builtin: func(r *reader, pos Pos) string {
		r.diags.warnf(pos, "${_RANDOM} is a random number each time keepalived reads the file; imported as 0 (edit it)")
		return "0"
	}}
	r.defs["_HASH"] = &definition{value: "#"}
	r.defs["_BANG"] = &definition{value: "!"}
	return r
}

// open pushes the first readable file of names onto the include stack;
// the others are read after it.
func (r *reader) open(names []string, from Pos) {
	for i, name := range names {
		if r.open1(name, from) {
			r.stack[len(r.stack)-1].rest = names[i+1:]
			r.stack[len(r.stack)-1].from = from
			return
		}
	}
}

func (r *reader) open1(name string, from Pos) bool {
	if len(r.stack) >= maxIncludeDepth {
		r.diags.errorf(from, "includes nested more than %d deep (an include loop?)", maxIncludeDepth)
		return false
	}
	clean := filepath.Clean(name)
	for _, f := range r.stack {
		if filepath.Clean(f.name) == clean {
			r.diags.errorf(from, "%s includes itself (through %s)", name, f.name)
			return false
		}
	}
	if len(r.files) >= maxFiles {
		r.diags.errorf(from, "more than %d configuration files", maxFiles)
		return false
	}
	b, err := r.fsys.ReadFile(name)
	if err != nil {
		if from.File == "" {
			r.diags.errorf(Pos{File: name}, "%v", err)
		} else if errors.Is(err, ErrNotConfigFile) {
			r.diags.warnf(from, "include %s: %v; keepalived skips it too", name, err)
		} else {
			r.diags.errorf(from, "include %s: %v", name, err)
		}
		return false
	}
	r.files = append(r.files, name)
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	r.stack = append(r.stack, &srcFile{name: name, lines: lines})
	return true
}

// next returns the next logical line, or false at the end of the input or
// after too many errors.
func (r *reader) next() (line, bool) {
	for len(r.diags.errs) < 50 {
		var l line
		if n := len(r.pending); n > 0 {
			l = r.pending[n-1]
			r.pending = r.pending[:n-1]
		} else {
			if len(r.stack) == 0 {
				return line{}, false
			}
			f := r.stack[len(r.stack)-1]
			if f.next >= len(f.lines) {
				r.stack = r.stack[:len(r.stack)-1]
				if len(f.rest) > 0 {
					r.open(f.rest, f.from)
				}
				continue
			}
			raw := strings.TrimRight(f.lines[f.next], "\r")
			f.next++
			l = line{pos: Pos{File: f.name, Line: f.next}}
			if r.defining != nil && raw == "" {
				r.endDefinition()
				continue
			}
			l.text = r.decomment(raw, l.pos)
		}
		if r.nlines++; r.nlines > maxLines {
			r.diags.errorf(l.pos, "more than %d lines after includes and expansions", maxLines)
			return line{}, false
		}
		if r.defining != nil {
			r.continueDefinition(l.text)
			continue
		}
		if l.text == "" {
			continue
		}
		text, ok := r.preprocess(l)
		if !ok || text == "" {
			continue
		}
		if r.include(l.pos, text) {
			continue
		}
		first, rest := splitBrace(text)
		if rest != "" {
			r.pending = append(r.pending, line{pos: l.pos, text: rest})
		}
		return line{pos: l.pos, text: first}, true
	}
	return line{}, false
}

// decomment removes a comment ('!' or '#' outside double quotes, to the end
// of the line), the backslash of an escaped "\#" or "\!", and leading and
// trailing blanks, as keepalived's decomment(). A line ending in a
// backslash keeps it (a multi-line definition continues).
func (r *reader) decomment(s string, pos Pos) string {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote, cont := false, false
	cut := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if cut < 0 {
				quote = !quote
			}
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				i = len(s)
				continue
			}
			if cut < 0 && !quote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			if cut < 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
			continue
		case (c == '!' || c == '#') && !quote && cut < 0:
			cut = b.Len()
		}
		if cut < 0 {
			b.WriteByte(c)
		}
	}
	if quote {
		r.diags.errorf(pos, "unterminated quote: %s", s)
	}
	out := strings.TrimRight(b.String(), " \t")
	if cont {
		out += "\\"
	}
	return out
}

// preprocess applies conditional configuration, parameter definitions and
// substitutions to a line. It returns false when the line is consumed.
func (r *reader) preprocess(l line) (string, bool) {
	text := l.text
	for range maxExpansions {
		if text == "" {
			return "", false
		}
		if text[0] == '@' {
			var ok bool
			if text, ok = r.conditional(l.pos, text); !ok || text == "" {
				return "", false
			}
		}
		if text[0] == '$' && r.define(l.pos, text) {
			return "", false
		}
		if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
			r.diags.errorf(l.pos, "%s blocks are not supported by lvsd import: expand them by hand (or write the generated lines out) first", text[:4])
			return "", false
		}
		if text[0] == '~' || !strings.Contains(text, "$") {
			return text, true
		}
		out, changed := r.substitute(l.pos, text)
		if !changed {
			return text, true
		}
		text = out
		if text == "" || (text[0] != '@' && !strings.Contains(text, "$")) {
			return text, true
		}
	}
	r.diags.errorf(l.pos, "parameter substitution does not end (a parameter defined in terms of itself?)")
	return "", false
}

// conditional handles "@ID rest" (kept when ID is the config id) and
// "@^ID rest" (kept when it is not).
func (r *reader) conditional(pos Pos, text string) (string, bool) {
	neg := strings.HasPrefix(text, "@^")
	id := text[1:]
	if neg {
		id = text[2:]
	}
	i := strings.IndexAny(id, " \t")
	if i < 0 {
		return "", false
	}
	id, rest := id[:i], strings.TrimLeft(id[i:], " \t")
	if !r.condSeen {
		r.condSeen = true
		if r.configID == "" {
			r.diags.notef(pos, "conditional lines (@ID): no config id given, so every @ID line is skipped and every @^ID line kept, as keepalived without -i on a host of another name; use --config-id")
		} else {
			r.diags.notef(pos, "conditional lines (@ID): importing for config id %q (--config-id), as keepalived -i %s", r.configID, r.configID)
		}
	}
	match := r.configID != "" && id == r.configID
	if match == neg {
		return "", false
	}
	return rest, true
}

// define records "$NAME=VALUE" (a trailing backslash starts a multi-line
// value). It returns false when the line is not a definition.
func (r *reader) define(pos Pos, text string) bool {
	i := 1
	if i >= len(text) || !(isAlpha(text[i]) || text[i] == '_') {
		return false
	}
	for i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
		i++
	}
	name := text[1:i]
	if i >= len(text) || text[i] != '=' {
		return false
	}
	value := strings.TrimLeft(text[i+1:], " \t")
	d := &definition{}
	if strings.HasSuffix(value, "\\") {
		d.multiline = true
		value = strings.TrimRight(strings.TrimSuffix(value, "\\"), " \t")
		r.defining = d
	}
	d.value = value
	r.defs[name] = d
	return true
}

func (r *reader) continueDefinition(text string) {
	d := r.defining
	more := strings.HasSuffix(text, "\\")
	if more {
		text = strings.TrimRight(strings.TrimSuffix(text, "\\"), " \t")
	}
	if text != "" {
		if d.value != "" {
			d.value += "\n"
		}
		d.value += text
	}
	if !more {
		r.endDefinition()
	}
}

func (r *reader) endDefinition() {
	if r.defining.value == "" {
		r.defining.multiline = false
	}
	r.defining = nil
}

// substitute replaces $NAME (followed by a blank, ',', ')' or the end)
// and ${NAME} with their definitions; undefined names stay as written. A
// multi-line definition is only used at the end of a line: its first line
// replaces the reference, and the others follow as lines of their own.
func (r *reader) substitute(pos Pos, text string) (string, bool) {
	changed := false
	var more []line
	for i, n := 0, 0; i < len(text); {
		j := strings.IndexByte(text[i:], '$')
		if j < 0 || i+j+1 >= len(text) {
			break
		}
		i += j
		name, end, ok := paramRef(text, i)
		if !ok {
			i++
			continue
		}
		d := r.defs[name]
		atEnd := end == len(text)
		if d == nil || (d.multiline && !atEnd) {
			i++
			continue
		}
		if n++; n > maxExpansions {
			r.diags.errorf(pos, "parameter substitution does not end (a parameter defined in terms of itself?)")
			return "", true
		}
		value := d.value
		if d.builtin != nil {
			value = d.builtin(r, pos)
		}
		if d.multiline {
			lines := strings.Split(value, "\n")
			value = lines[0]
			for _, s := range lines[1:] {
				more = append(more, line{pos: pos, text: s})
			}
		}
		text = text[:i] + value + text[end:]
		changed = true
		if len(text) > maxLineLen {
			r.diags.errorf(pos, "line longer than %d bytes after parameter substitution", maxLineLen)
			return "", true
		}
		// Like keepalived, go on from the replacement: a value may hold
		// further references.
	}
	for i := len(more) - 1; i >= 0; i-- {
		r.pending = append(r.pending, more[i])
	}
	return text, changed
}

// paramRef parses a reference at text[i] == '$': $NAME or ${NAME}. It
// returns the name and the end of the reference.
func paramRef(text string, i int) (string, int, bool) {
	j := i + 1
	braces := j < len(text) && text[j] == '{'
	if braces {
		j++
	}
	start := j
	if j >= len(text) || !(isAlpha(text[j]) || text[j] == '_') {
		return "", 0, false
	}
	for j < len(text) && (isAlnum(text[j]) || text[j] == '_') {
		j++
	}
	name := text[start:j]
	if braces {
		// ${_RANDOM 1 10} takes numeric parameters; they are ignored here.
		for j < len(text) && (text[j] == ' ' || (text[j] >= '0' && text[j] <= '9')) {
			j++
		}
		if j >= len(text) || text[j] != '}' {
			return "", 0, false
		}
		return name, j + 1, true
	}
	if j < len(text) && !strings.ContainsRune(" \t,)", rune(text[j])) {
		return "", 0, false
	}
	return name, j, true
}

// includeWords are keepalived's include keywords (the variants only
// differ in which missing files are errors).
var includeWords = map[string]bool{"include": true, "includer": true, "includem": true, "includew": true, "includeb": true, "includea": true, "includet": true}

// include follows an include line. It returns false when the line is not
// one.
func (r *reader) include(pos Pos, text string) bool {
	if !strings.Contains(text, "include") {
		return false
	}
	words, err := splitWords(text)
	if err != nil || len(words) != 2 || !includeWords[words[0]] {
		return false
	}
	kw, pattern := words[0], words[1]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	var matches []string
	patterns := expandBraces(pattern, maxBraceGlobs)
	for _, p := range patterns {
		m, err := r.fsys.Glob(p)
		if err != nil {
			r.diags.errorf(pos, "%s %s: %v", kw, words[1], err)
			return true
		}
		if len(m) == 0 && kw != "include" && kw != "includer" {
			r.diags.errorf(pos, "%s %s: no file matches %s", kw, words[1], p)
		}
		matches = append(matches, m...)
	}
	if len(matches) == 0 {
		if kw == "include" || kw == "includer" {
			r.diags.warnf(pos, "%s %s: no file matches; keepalived goes on without it", kw, words[1])
		}
		return true
	}
	r.open(matches, pos)
	return true
}

// expandBraces expands csh-style braces ("{a,b}c" is "ac", "bc"), nested,
// as glob(3) with GLOB_BRACE; at most limit patterns.
func expandBraces(p string, limit int) []string {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return []string{p}
	}
	depth, close := 0, -1
	var commas []int
	for i := open; i < len(p) && close < 0; i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				close = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if close < 0 {
		return []string{p}
	}
	var alts []string
	prev := open + 1
	for _, c := range commas {
		alts = append(alts, p[prev:c])
		prev = c + 1
	}
	alts = append(alts, p[prev:close])
	var out []string
	for _, a := range alts {
		for _, e := range expandBraces(p[:open]+a+p[close+1:], limit) {
			if len(out) >= limit {
				return out
			}
			out = append(out, e)
		}
	}
	return out
}

// splitBrace returns the part of a line before its first '{' or '}'
// outside double quotes, and the rest; a line that starts with a brace
// returns the brace alone.
func splitBrace(text string) (string, string) {
	i := 0
	if text[0] != '{' && text[0] != '}' {
		for i < len(text) {
			k := strings.IndexAny(text[i:], "{}\"")
			if k < 0 {
				return text, ""
			}
			i += k
			if text[i] != '"' {
				break
			}
			q := strings.IndexByte(text[i+1:], '"')
			if q < 0 {
				return text, ""
			}
			i += q + 2
		}
		if i >= len(text) {
			return text, ""
		}
	}
	if i == 0 {
		return text[:1], strings.TrimRight(strings.TrimLeft(text[1:], " \t"), " \t")
	}
	return strings.TrimRight(text[:i], " \t"), text[i:]
}

// splitWords splits a line into words as keepalived's alloc_strvec(): at
// blanks, a word that starts with a double quote runs to the next one
// (quotes removed, no escapes).
func splitWords(s string) ([]string, error) {
	var words []string
	const blanks = " \t\f\n\r\v"
	for i := 0; i < len(s); {
		for i < len(s) && strings.IndexByte(blanks, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return words, fmt.Errorf("unmatched quote in %q", s)
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := strings.IndexAny(s[i:], blanks+"\"")
		if j < 0 {
			j = len(s) - i
		}
		words = append(words, s[i:i+j])
		i += j
	}
	return words, nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }
