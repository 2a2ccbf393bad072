package kaconf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/lvsd/lvsd/director"
)

// FuzzImport reads arbitrary bytes as a keepalived configuration (with a
// few files to include) and converts them. Whatever the input: no panic,
// a read error or output that is well-formed HCL, the same output every
// time, and warnings that point into the input.
//
//	go test -run '^$' -fuzz FuzzImport -fuzztime 5m ./director/kaconf
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*/*.conf")
	more, _ := filepath.Glob("testdata/corpus/*/*/*.conf")
	for _, name := range append(files, more...) {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"include inc/*.conf\n",
		"vs {\ninclude inc/rs.conf\n}\n",
		"$A=1\n$M= \\\n x $A \\\n y\n@lb1 $M\n@^lb1 z ${A}\n",
		"a { b { c } } }\n{\n",
		`notify "/bin/x 'a b' \x41\101" user group`,
		"virtual_server_group G {\n10.0.0.1-250 80\nfwmark 3\n}\nvirtual_server group G {\nreal_server 10.0.0.9 {\n}\n}\n",
	} {
		f.Add([]byte(s))
	}
	fsys := MapFS{
		"inc/a.conf":    "vrrp_instance I {\ninterface eth0\nvirtual_router_id 1\nvirtual_ipaddress {\n10.0.0.1\n}\n}\n",
		"inc/rs.conf":   "real_server 10.0.0.2 80 {\nTCP_CHECK {\n}\n}\n",
		"inc/loop.conf": "include loop.conf\n",
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse(src, "keepalived.conf", ParseOptions{FS: fsys, ConfigID: "lb1"})
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			return
		}
		out := Convert(file)
		if _, diags := hclsyntax.ParseConfig(out.HCL, "out.hcl", hcl.InitialPos); diags.HasErrors() {
			t.Fatalf("the output is not HCL: %v\n%s", diags, out.HCL)
		}
		again := Convert(file)
		if !bytes.Equal(out.HCL, again.HCL) || len(out.Warnings) != len(again.Warnings) {
			t.Fatalf("two conversions differ")
		}
		for _, w := range out.Warnings {
			if w.Pos.Line < 1 || w.Pos.File == "" {
				t.Fatalf("warning without a place: %s", w)
			}
		}
		// lvsd's decoder must cope with whatever the importer writes.
		director.ParseConfig(out.HCL, "out.hcl", nil)
	})
}
