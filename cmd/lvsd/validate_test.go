package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func runLVSD(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(singleDashVar(args))
	if err := cmd.Execute(); err != nil {
		// As main prints it.
		return out.String(), errOut.String() + "lvsd: " + err.Error() + "\n", exitCode(err)
	}
	return out.String(), errOut.String(), 0
}

func TestValidate(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	if err := os.WriteFile(bad, []byte(`virtual_server "web" {
  address   = "192.0.2.1:80"
  scheduler = "wlcc"
  real_server {
    address = "10.0.0.1:80"
    weight  = 70000
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout string // regexp
		wantStderr []string
	}{{
		name:       "valid",
		args:       []string{"validate", "-c", "../../examples/nat-nginx-tomcat.hcl"},
		wantStdout: `^\.\./\.\./examples/nat-nginx-tomcat\.hcl: valid: 3 virtual servers, 8 real servers, 0 vrrp instances \(hash [0-9a-f]{12}\)\n$`,
	}, {
		name:       "directory",
		args:       []string{"validate", "--config", "../../examples/conf.d"},
		wantStdout: `valid: 2 virtual servers, 4 real servers, 1 vrrp instance \(hash`,
	}, {
		name:       "single-dash -var",
		args:       []string{"validate", "-c", "../../examples/fifty-servers.hcl", "-var", "servers=3"},
		wantStdout: `valid: 2 virtual servers, 6 real servers,`,
	}, {
		name:       "-var=name=value",
		args:       []string{"validate", "-c", "../../examples/fifty-servers.hcl", "-var=servers=4"},
		wantStdout: `valid: 2 virtual servers, 8 real servers,`,
	}, {
		name:       "environment variable, overridden by -var",
		args:       []string{"validate", "-c", "../../examples/fifty-servers.hcl", "--var", "heavy=[]"},
		env:        map[string]string{"LVSD_VAR_servers": "5", "LVSD_VAR_heavy": "not a list"},
		wantStdout: `valid: 2 virtual servers, 10 real servers,`,
	}, {
		name:       "print",
		args:       []string{"validate", "-c", "../../examples/dr-web.hcl", "--print"},
		wantStdout: `(?s)^\{\n  "NodeName": "",.*"Services": \[\n\s+"tcp 192\.0\.2\.80:80",\n\s+"tcp 192\.0\.2\.80:443"\n.*"ID": "web/web4",`,
	}, {
		name:     "invalid",
		args:     []string{"validate", "-c", bad},
		wantCode: 2,
		wantStderr: []string{
			"Error: Unknown scheduler",
			"on " + bad + ":3:15, in virtual_server \"web\":",
			"   3:   scheduler = \"wlcc\"\n                    ^^^^^^\n",
			"on " + bad + ":6:15",
			"invalid configuration (2 errors)",
		},
	}, {
		name:       "warnings only",
		args:       []string{"validate", "-c", "../../director/testdata/bad/vip_not_held.hcl"},
		wantStdout: `valid: 3 virtual servers`,
		wantStderr: []string{"Warning: Virtual address not held by VRRP"},
	}, {
		name:       "undeclared variable",
		args:       []string{"validate", "-c", "../../examples/dr-web.hcl", "-var", "nope=1"},
		wantCode:   2,
		wantStderr: []string{`Error: Undeclared variable`},
	}, {
		name:       "malformed -var",
		args:       []string{"validate", "-c", "../../examples/dr-web.hcl", "-var", "nope"},
		wantCode:   2,
		wantStderr: []string{`-var "nope": want name=value`},
	}, {
		name:       "missing file",
		args:       []string{"validate", "-c", "/nonexistent/lvsd.hcl"},
		wantCode:   2,
		wantStderr: []string{"Cannot read configuration", "/nonexistent/lvsd.hcl"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			stdout, stderr, code := runLVSD(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if tt.wantStdout != "" && !regexp.MustCompile(tt.wantStdout).MatchString(stdout) {
				t.Errorf("stdout %q does not match %q", stdout, tt.wantStdout)
			}
			if tt.wantStdout == "" && stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if len(tt.wantStderr) == 0 && stderr != "" {
				t.Errorf("stderr not empty: %q", stderr)
			}
		})
	}
}

func TestSingleDashVar(t *testing.T) {
	got := singleDashVar([]string{"validate", "-var", "a=1", "-var=b=2", "--var", "c=3", "-v", "-variable", "--", "-var"})
	want := []string{"validate", "--var", "a=1", "--var=b=2", "--var", "c=3", "-v", "-variable", "--", "-var"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
