package kaconf

import (
	"os"
	"strings"
)

// Node is one keepalived statement: a keyword, its arguments, and the
// statements of its { } block if it has one.
type Node struct {
	Pos Pos
	// Words are the keyword and its arguments, split as keepalived splits
	// them (a double-quoted string is one word, without its quotes).
	Words []string
	// Raw is the statement's line as keepalived's handlers see it (comments
	// removed, parameters substituted): commands are split from it again
	// with shell-like quoting (see CommandArgs).
	Raw string
	// HasBlock is true when a { } block follows the statement; Block holds
	// its statements.
	HasBlock bool
	Block    []*Node
	// End is where the block closes.
	End Pos
}

// Keyword is the statement's first word.
func (n *Node) Keyword() string { return n.Words[0] }

// Args are the words after the keyword.
func (n *Node) Args() []string { return n.Words[1:] }

// Arg returns the i-th argument (0 is the first after the keyword), or "".
func (n *Node) Arg(i int) string {
	if i+1 < len(n.Words) {
		return n.Words[i+1]
	}
	return ""
}

// File is a parsed keepalived configuration: the top-level statements of
// the main file and everything it includes.
type File struct {
	Nodes []*Node
	// Files are every file read, in the order they were opened.
	Files []string
	// Warnings are what reading noticed (an include matching nothing, the
	// config id used for conditional lines, ...).
	Warnings []Warning
}

// ParseOptions control how a configuration is read.
type ParseOptions struct {
	// FS reads the files; nil is the local file system.
	FS FileSystem
	// ConfigID is keepalived's -i: lines starting "@ID" are kept only when
	// ID is ConfigID, lines starting "@^ID" only when it is not. keepalived
	// defaults it to the host name; empty skips every "@ID" line.
	ConfigID string
}

// DefaultConfigID is keepalived's default config id: the host name up to
// its first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// ParseFile reads the keepalived configuration at path and the files it
// includes. The error, if any, is an ErrorList: the configuration cannot
// be read as keepalived reads it (an unbalanced brace, an unterminated
// quote, an include loop, an unreadable file).
func ParseFile(path string, opts ParseOptions) (*File, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFS{}
	}
	d := &diagnostics{}
	r := newReader(fsys, opts.ConfigID, d)
	r.open([]string{path}, Pos{})
	return parse(r, d)
}

// Parse reads a configuration from src, named name in positions; includes
// are read from opts.FS (nil: the local file system), relative to name's
// directory.
func Parse(src []byte, name string, opts ParseOptions) (*File, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFS{}
	}
	fsys = overlayFS{FileSystem: fsys, name: name, src: src}
	return ParseFile(name, ParseOptions{FS: fsys, ConfigID: opts.ConfigID})
}

// overlayFS serves one in-memory file over another FileSystem.
type overlayFS struct {
	FileSystem
	name string
	src  []byte
}

func (o overlayFS) ReadFile(name string) ([]byte, error) {
	if name == o.name {
		return o.src, nil
	}
	return o.FileSystem.ReadFile(name)
}

func parse(r *reader, d *diagnostics) (*File, error) {
	p := &parser{r: r, d: d}
	nodes := p.block(nil)
	f := &File{Nodes: nodes, Files: r.files, Warnings: d.warns}
	if len(d.errs) > 0 {
		return f, d.errs
	}
	return f, nil
}

type parser struct {
	r *reader
	d *diagnostics
}

// block reads statements until the '}' that closes parent (nil: the end of
// the input).
func (p *parser) block(parent *Node) []*Node {
	var nodes []*Node
	for {
		l, ok := p.r.next()
		if !ok {
			if parent != nil && len(p.d.errs) == 0 {
				p.d.errorf(parent.Pos, "the { of %s is never closed (missing '}')", parent.Keyword())
			}
			return nodes
		}
		switch l.text {
		case "}":
			if parent == nil {
				p.d.errorf(l.pos, "extra '}'")
				continue
			}
			parent.End = l.pos
			return nodes
		case "{":
			var last *Node
			if len(nodes) > 0 {
				last = nodes[len(nodes)-1]
			}
			if last == nil || last.HasBlock {
				p.d.errorf(l.pos, "'{' without a keyword before it")
				// Read the block anyway so that its '}' matches.
				p.block(&Node{Pos: l.pos, Words: []string{"{"}})
				continue
			}
			last.HasBlock = true
			last.Block = p.block(last)
			continue
		}
		words, err := splitWords(l.text)
		if err != nil {
			p.d.errorf(l.pos, "%v", err)
		}
		if len(words) == 0 {
			continue
		}
		nodes = append(nodes, &Node{Pos: l.pos, Words: words, Raw: l.text})
	}
}
