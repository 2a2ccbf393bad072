package kaconf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/test/nstest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/corpus")

// The corpus: testdata/corpus/NAME/keepalived.conf (with the files it
// includes, and config-id when it has conditional lines), keepalived
// configurations written the way people write them. Golden files next to
// each: lvsd.hcl (the import), warnings.txt (the warnings, notes and lvsd's
// own validation warnings) and keepalived-t.txt (what `keepalived -t` says
// about the input). go test -run Corpus -update rewrites them.

func corpusCases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*/keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("the corpus has %d cases; expected at least 15", len(files))
	}
	dirs := make([]string, len(files))
	for i, f := range files {
		dirs[i] = filepath.Dir(f)
	}
	return dirs
}

func configID(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "config-id"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// importCase imports a corpus case with names relative to its directory.
func importCase(t *testing.T, dir string) *Result {
	t.Helper()
	f, err := ParseFile("keepalived.conf", ParseOptions{FS: DirFS(dir), ConfigID: configID(t, dir)})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return ConvertAndValidate(f, OutputName)
}

func TestCorpus(t *testing.T) {
	for _, dir := range corpusCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res := importCase(t, dir)
			if res.Diags.HasErrors() {
				t.Errorf("the import does not validate:\n%s\n%s", director.FormatDiagnostics(res.Diags, map[string][]byte{OutputName: res.HCL}), res.HCL)
			}
			// Every warning points at a line of an input file.
			for _, w := range res.Warnings {
				if w.Pos.Line < 1 || !contains(res.Files, w.Pos.File) {
					t.Errorf("warning without a place in the input: %s", w)
				}
			}
			golden(t, filepath.Join(dir, "lvsd.hcl"), string(res.HCL))
			golden(t, filepath.Join(dir, "warnings.txt"), warningsText(res.Warnings, res.Diags))
		})
	}
}

// warningsText renders warnings and lvsd's diagnostics one per line.
func warningsText(warns []Warning, diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, w := range warns {
		b.WriteString(w.String() + "\n")
	}
	for _, d := range diags {
		sev := "warning"
		if d.Severity == hcl.DiagError {
			sev = "error"
		}
		pos := ""
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(&b, "lvsd validate: %s%s: %s: %s\n", pos, sev, d.Summary, d.Detail)
	}
	return b.String()
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Corpus -update to create it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// keepaliveEnv are keepalived -t messages about this host rather than the
// configuration: interfaces, users and scripts that do not exist here.
var keepalivedEnv = regexp.MustCompile(`doesn't exist|^Non-existent interface|not found/accessible|` +
	`SECURITY VIOLATION|default user 'keepalived_script'|Error setting global script uid/gid|` +
	`Unable to set default user|track script \S+ not found, ignoring|Cannot find script|` +
	`could not find script|Unable to access script|is not executable|Unsafe permissions found for script`)

// keepalivedSyntax are keepalived -t messages that mean the file is not
// keepalived syntax at all.
var keepalivedSyntax = regexp.MustCompile(`Unknown keyword|Missing '\{'|Extra '\}'|missing '\}'|Unexpected '\{'|` +
	`[Uu]nmatched quote|Unterminated quote|missing terminating|is missing a parameter|No config files matched`)

// TestCorpusIsKeepalivedSyntax runs keepalived's own configuration test on
// every corpus file: the corpus is what keepalived accepts, and
// keepalived-t.txt records what keepalived says about each file. keepalived
// stops checking at the first interface that does not exist, so each file
// is checked in a network namespace that has its interfaces (dummies).
func TestCorpusIsKeepalivedSyntax(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("keepalived is not installed (test/deps.sh installs it): the corpus is not checked against keepalived -t")
	}
	nstest.Skip(t)
	for _, dir := range corpusCases(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			id := configID(t, dir)
			f, err := ParseFile("keepalived.conf", ParseOptions{FS: DirFS(dir), ConfigID: id})
			if err != nil {
				t.Fatal(err)
			}
			// Each interface is one end of a veth pair inside the namespace
			// (dummy interfaces need a module the lab kernel may lack).
			ns := nstest.New(t, "kaconf")
			for i, name := range interfaces(f.Nodes) {
				if name == "lo" {
					continue
				}
				peer := fmt.Sprintf("kapeer%d", i)
				if err := ns.Netlink().LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}); err != nil {
					t.Fatalf("interface %s: %v", name, err)
				}
				for _, dev := range []string{name, peer} {
					if err := ns.LinkUp(dev); err != nil {
						t.Fatal(err)
					}
				}
			}
			args := []string{"--config-test", "--use-file", "keepalived.conf"}
			if id != "" {
				args = append(args, "--config-id", id)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := ns.Command(ctx, bin, args...)
			cmd.Dir = dir
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			// keepalived -t exits non-zero for warnings too; what it says
			// is what counts.
			_ = ns.Run(cmd)
			if ctx.Err() != nil {
				t.Fatalf("keepalived -t did not finish: %v", ctx.Err())
			}
			var kept []string
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if l == "" || keepalivedEnv.MatchString(l) {
					continue
				}
				if keepalivedSyntax.MatchString(l) {
					t.Errorf("keepalived does not accept the syntax: %s", l)
				}
				kept = append(kept, l)
			}
			text := ""
			if len(kept) > 0 {
				text = strings.Join(kept, "\n") + "\n"
			}
			golden(t, filepath.Join(dir, "keepalived-t.txt"), text)
		})
	}
}

// interfaces lists the interface names a configuration uses.
func interfaces(nodes []*Node) []string {
	var out []string
	add := func(s string) {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	var walk func(nodes []*Node, parent string)
	walk = func(nodes []*Node, parent string) {
		for _, n := range nodes {
			switch n.Keyword() {
			case "interface", "lvs_sync_daemon", "lvs_sync_daemon_interface", "bind_if", "default_interface":
				add(n.Arg(0))
			}
			if parent == "track_interface" {
				add(n.Keyword())
			}
			if parent == "virtual_ipaddress" || parent == "virtual_ipaddress_excluded" {
				for i, w := range n.Words {
					if w == "dev" && i+1 < len(n.Words) {
						add(n.Words[i+1])
					}
				}
			}
			walk(n.Block, n.Keyword())
		}
	}
	walk(nodes, "")
	return out
}

// keepalived's own example configurations (the Debian package installs
// them) import without a read error, and lvsd accepts every result.
func TestKeepalivedSamples(t *testing.T) {
	files, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	if len(files) == 0 {
		t.Skip("keepalived's samples are not installed (/usr/share/doc/keepalived/samples, Debian package keepalived)")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := Import(f, ParseOptions{})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if res.Diags.HasErrors() {
				t.Errorf("the import does not validate:\n%s\n%s", director.FormatDiagnostics(res.Diags, map[string][]byte{OutputName: res.HCL}), res.HCL)
			}
		})
	}
}
