package kaconf

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dump renders parsed statements compactly: words joined by single spaces
// (a word with a blank in it quoted), blocks in braces, statements
// separated by "; ".
func dump(nodes []*Node) string {
	var parts []string
	for _, n := range nodes {
		words := make([]string, len(n.Words))
		for i, w := range n.Words {
			if w == "" || strings.ContainsAny(w, " \t") {
				w = "'" + w + "'"
			}
			words[i] = w
		}
		s := strings.Join(words, " ")
		if n.HasBlock {
			s += " {" + dump(n.Block) + "}"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func TestRead(t *testing.T) {
	tests := []struct {
		name string
		src  string
		id   string
		want string
	}{
		{"bang and hash comments", "! a comment\n# another\nrouter_id lb1 ! trailing\nfoo bar # trailing too\n", "", "router_id lb1; foo bar"},
		{"comment characters in double quotes", `notify "/bin/x #1 !2" # real comment`, "", "notify '/bin/x #1 !2'"},
		{"single quotes do not protect a comment", `script 'a # b'`, "", "script 'a"},
		{"escaped comment characters", `notify /bin/x\#1\!2`, "", "notify /bin/x#1!2"},
		{"brace on the same line", "vrrp_instance VI {\n state MASTER\n}\n", "", "vrrp_instance VI {state MASTER}"},
		{"brace on the next line", "vrrp_instance VI\n{\n state MASTER\n}\n", "", "vrrp_instance VI {state MASTER}"},
		{"brace after a blank and a comment line", "vrrp_instance VI\n\n! hm\n   {\n state MASTER\n}\n", "", "vrrp_instance VI {state MASTER}"},
		{"one-line blocks", "a { b { c 1 } d 2 }", "", "a {b {c 1}; d 2}"},
		{"brace glued to a word", "virtual_server 10.0.0.1 80{\nlb_algo rr}", "", "virtual_server 10.0.0.1 80 {lb_algo rr}"},
		{"closing brace after a value", "virtual_ipaddress {\n 10.0.0.1/24 }\n", "", "virtual_ipaddress {10.0.0.1/24}"},
		{"braces inside double quotes stay", `misc_path "/bin/x {a}"`, "", "misc_path '/bin/x {a}'"},
		{"tabs and odd spacing", "\t  state\t\tMASTER   \t\n", "", "state MASTER"},
		{"CRLF line endings", "a {\r\n b 1\r\n}\r\n", "", "a {b 1}"},
		{"quoted word glued to a word", `x ab"c d"e`, "", "x ab 'c d' e"},
		{"empty quoted word", `x "" y`, "", "x '' y"},
		{"parameters", "$IF=eth1\n$VIP=10.0.0.1\ninterface $IF\nvip ${VIP}/24\n", "", "interface eth1; vip 10.0.0.1/24"},
		{"a parameter needs a separator after it", "$A=1\nx $A, $Ab ${A}b", "", "x 1, $Ab 1b"},
		{"undefined parameters stay", `x $UNDEFINED "${ALSO}"`, "", "x $UNDEFINED ${ALSO}"},
		// keepalived splits at braces before it looks at words: an
		// undefined ${X} outside quotes opens a block.
		{"an undefined ${} opens a block", "x ${ALSO}", "", "x $ {ALSO}"},
		{"parameters in parameters", "$BASE=10.0.${SUB}\n$SUB=7\nx ${BASE}.1", "", "x 10.0.7.1"},
		{"no space before =", "$A =1\n", "", "$A =1"},
		{"multi-line parameter", "$RS= \\\n real_server 10.0.0.1 80 { \\\n  weight 2 \\\n }\nvs {\n $RS\n}\n", "", "vs {real_server 10.0.0.1 80 {weight 2}}"},
		{"multi-line parameter ends at a blank line", "$RS= \\\n a 1 \\\n\nb 2\n$RS\n", "", "b 2; a 1"},
		{"a multi-line parameter only at the end of a line", "$M= \\\n a \\\n b\nx $M y\n", "", "x $M y"},
		{"builtin hash and bang", "x ${_HASH}1 ${_BANG}", "", "x #1 !"},
		{"builtin instance", "router_id ${_INSTANCE}", "lb9", "router_id lb9"},
		{"conditional lines, matching id", "@lb1 priority 150\n@lb2 priority 100\n@^lb1 peer 1\n@^lb2 peer 2\n", "lb1", "priority 150; peer 2"},
		{"conditional lines, no id", "@lb1 priority 150\n@^lb1 peer 1\n", "", "peer 1"},
		{"conditional parameter", "@lb1 $P=150\n@lb2 $P=100\npriority $P", "lb2", "priority 100"},
		{"a conditional needs something after the id", "@lb1\nx 1", "lb1", "x 1"},
		{"line continuation outside a definition is kept", "x a\\\n", "", `x a\`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.src), "keepalived.conf", ParseOptions{FS: MapFS{}, ConfigID: tt.id})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := dump(f.Nodes); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestReadPositions(t *testing.T) {
	fs := MapFS{
		"etc/keepalived.conf":    "! main\nglobal_defs {\n  router_id x\n}\ninclude conf.d/*.conf\nlast 1\n",
		"etc/conf.d/a.conf":      "a 1\n\n  a 2\n",
		"etc/conf.d/b.conf":      "include ../inc/c.inc\n",
		"etc/inc/c.inc":          "c 1\n",
		"etc/conf.d/ignored.txt": "nope\n",
	}
	f, err := ParseFile("etc/keepalived.conf", ParseOptions{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var walk func([]*Node)
	walk = func(ns []*Node) {
		for _, n := range ns {
			got = append(got, n.Pos.String()+" "+n.Keyword())
			walk(n.Block)
		}
	}
	walk(f.Nodes)
	want := []string{
		"etc/keepalived.conf:2 global_defs",
		"etc/keepalived.conf:3 router_id",
		"etc/conf.d/a.conf:1 a",
		"etc/conf.d/a.conf:3 a",
		"etc/inc/c.inc:1 c",
		"etc/keepalived.conf:6 last",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"etc/keepalived.conf", "etc/conf.d/a.conf", "etc/conf.d/b.conf", "etc/inc/c.inc"}, f.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestReadIncludes(t *testing.T) {
	tests := []struct {
		name     string
		fs       MapFS
		want     string
		warnings []string
		errs     []string
	}{{
		name: "glob in name order, relative to the including file",
		fs: MapFS{
			"k/main.conf":     "include sub/*.conf\n",
			"k/sub/20-b.conf": "b 1\ninclude ../other/x.conf\n",
			"k/sub/10-a.conf": "a 1\n",
			"k/other/x.conf":  "x 1\n",
		},
		want: "a 1; b 1; x 1",
	}, {
		name: "brace expansion",
		fs: MapFS{
			"k/main.conf": "include {web,mail}.conf\n",
			"k/mail.conf": "mail 1\n",
			"k/web.conf":  "web 1\n",
		},
		want: "web 1; mail 1",
	}, {
		name: "include inside a block",
		fs: MapFS{
			"k/main.conf": "virtual_server 10.0.0.1 80 {\n  include rs/*.conf\n}\n",
			"k/rs/1.conf": "real_server 10.0.1.1 80 {\n weight 1\n}\n",
			"k/rs/2.conf": "real_server 10.0.1.2 80 {\n weight 2\n}\n",
		},
		want: "virtual_server 10.0.0.1 80 {real_server 10.0.1.1 80 {weight 1}; real_server 10.0.1.2 80 {weight 2}}",
	}, {
		name: "a block opened in one file and closed in another",
		fs: MapFS{
			"k/main.conf": "include open.conf\n  b 1\n}\n",
			"k/open.conf": "a {\n",
		},
		want: "a {b 1}",
	}, {
		name:     "include matching nothing",
		fs:       MapFS{"k/main.conf": "include none/*.conf\nx 1\n"},
		want:     "x 1",
		warnings: []string{"k/main.conf:1: warning: include none/*.conf: no file matches; keepalived goes on without it"},
	}, {
		name: "includea matching nothing is an error",
		fs:   MapFS{"k/main.conf": "includea none/*.conf\n"},
		errs: []string{"k/main.conf:1: includea none/*.conf: no file matches k/none/*.conf"},
	}, {
		name: "include loop",
		fs:   MapFS{"k/main.conf": "include a.conf\n", "k/a.conf": "include main.conf\n"},
		errs: []string{"k/a.conf:1: k/main.conf includes itself (through k/main.conf)"},
	}, {
		name: "include with more words is a keyword",
		fs:   MapFS{"k/main.conf": "include a.conf b.conf\n"},
		want: "include a.conf b.conf",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("k/main.conf", ParseOptions{FS: tt.fs})
			var errs []string
			var list ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					errs = append(errs, e.Error())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.errs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if got := dump(f.Nodes); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			var warns []string
			for _, w := range f.Warnings {
				warns = append(warns, w.String())
			}
			if diff := cmp.Diff(tt.warnings, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unterminated quote", "a {\n notify \"/bin/x\n}\n", "k.conf:2: unterminated quote"},
		{"extra closing brace", "a 1\n}\n", "k.conf:2: extra '}'"},
		{"missing closing brace", "a {\n b 1\n", "k.conf:1: the { of a is never closed"},
		{"brace without a keyword", "{\n a 1\n}\n", "k.conf:1: '{' without a keyword"},
		{"two blocks on one keyword", "a {\n}\n{\n}\n", "k.conf:3: '{' without a keyword"},
		{"sequences", "~SEQ(i, 1, 3) x $i\n", "k.conf:1: ~SEQ blocks are not supported"},
		{"self-referencing parameter", "$A=x$A\ny $A\n", "k.conf:2: parameter substitution does not end"},
		{"missing main file", "", "no-such.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.name == "missing main file" {
				_, err = ParseFile("no-such.conf", ParseOptions{FS: MapFS{}})
			} else {
				_, err = Parse([]byte(tt.src), "k.conf", ParseOptions{FS: MapFS{}})
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not an ErrorList", err)
			}
		})
	}
}

func TestSplitQuoted(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`/bin/check a b`, []string{"/bin/check", "a", "b"}, false},
		{`/bin/check 'two words' "and more"`, []string{"/bin/check", "two words", "and more"}, false},
		{`a"b c"d`, []string{"ab cd"}, false},
		{`x\ y`, []string{"x y"}, false},
		{`"a\"b"`, []string{`a"b`}, false},
		{`'a\tb' \x41\101\n`, []string{"a\tb", "AA\n"}, false},
		{`\cA\E`, []string{"\x01\x1b"}, false},
		{`"open`, nil, true},
		{`end\`, nil, true},
		{"", nil, false},
	}
	for _, tt := range tests {
		got, err := splitQuoted(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("splitQuoted(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && !slices.Equal(got, tt.want) {
			t.Errorf("splitQuoted(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScriptOf(t *testing.T) {
	tests := []struct {
		raw        string
		argv       []string
		user, grp  string
		wantErrStr string
	}{
		{`notify_master "/etc/keepalived/notify.sh master"`, []string{"/etc/keepalived/notify.sh", "master"}, "", "", ""},
		{`script "/usr/bin/curl -fs 'http://x/a b'" nobody nogroup`, []string{"/usr/bin/curl", "-fs", "http://x/a b"}, "nobody", "nogroup", ""},
		{`misc_path /bin/true`, []string{"/bin/true"}, "", "", ""},
		{`script ""`, nil, "", "", "needs a command"},
	}
	for _, tt := range tests {
		words, _ := splitWords(tt.raw)
		s, err := scriptOf(&Node{Words: words, Raw: tt.raw})
		if tt.wantErrStr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrStr) {
				t.Errorf("scriptOf(%s): error %v, want %q", tt.raw, err, tt.wantErrStr)
			}
			continue
		}
		if err != nil || !slices.Equal(s.argv, tt.argv) || s.user != tt.user || s.group != tt.grp {
			t.Errorf("scriptOf(%s) = %q %q %q, %v; want %q %q %q", tt.raw, s.argv, s.user, s.group, err, tt.argv, tt.user, tt.grp)
		}
	}
}

func TestParseHexBytes(t *testing.T) {
	// keepalived.conf(5)'s own example.
	data, _, err := parseHexBytes("Ab12f 3 456 546443123", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03}; !slices.Equal(data, want) {
		t.Errorf("got % x, want % x", data, want)
	}
	data, mask, err := parseHexBytes("4X x5", true)
	if err != nil || !slices.Equal(data, []byte{0x40, 0x05}) || !slices.Equal(mask, []byte{0xf0, 0x0f}) {
		t.Errorf("wildcards: % x mask % x, %v", data, mask, err)
	}
	if _, _, err := parseHexBytes("4X", false); err == nil {
		t.Error("X without wildcards accepted")
	}
}

func TestExpandBraces(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a.conf", []string{"a.conf"}},
		{"{a,b}.conf", []string{"a.conf", "b.conf"}},
		{"x/{foo/{,cat,dog},bar}", []string{"x/foo/", "x/foo/cat", "x/foo/dog", "x/bar"}},
		{"{unclosed", []string{"{unclosed"}},
	}
	for _, tt := range tests {
		if got := expandBraces(tt.in, 100); !slices.Equal(got, tt.want) {
			t.Errorf("expandBraces(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := expandBraces("{a,b}{c,d}{e,f}{g,h}", 5); len(got) != 5 {
		t.Errorf("limit: %d patterns", len(got))
	}
}
