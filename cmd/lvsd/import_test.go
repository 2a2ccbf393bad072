package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/director"
)

const corpus = "../../director/kaconf/testdata/corpus/"

func TestImport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.conf", "vrrp_instance VI {\n  interface eth0\n")
	// Two unicast instances sharing a VRID with different peers: keepalived
	// allows it, and so does lvsd.
	sharedVRID := write("shared-vrid.conf", `vrrp_instance A {
  interface eth0
  virtual_router_id 5
  unicast_peer {
    10.0.0.2
  }
  virtual_ipaddress {
    192.0.2.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 5
  unicast_peer {
    10.0.0.3
  }
  virtual_ipaddress {
    192.0.2.2
  }
}
`)
	// lvsd refuses one address in two instances (they would fight over
	// it), which keepalived takes without a word.
	refused := write("refused.conf", `vrrp_instance A {
  interface eth0
  virtual_router_id 5
  virtual_ipaddress {
    192.0.2.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 6
  virtual_ipaddress {
    192.0.2.1
  }
}
`)
	clean := write("clean.conf", "vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  priority 100\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		noStdout   bool
		wantStderr []string
		notStderr  []string
	}{{
		name:       "to standard output",
		args:       []string{"import", corpus + "nat-nginx-tomcat/keepalived.conf"},
		wantStdout: []string{`vrrp_instance "VI_OUTSIDE" {`, `version           = 2`, `virtual_server "203.0.113.10_8080" {`},
		wantStderr: []string{
			"nat-nginx-tomcat/keepalived.conf:8: warning: notification_email: no lvsd equivalent",
			"nat-nginx-tomcat/keepalived.conf:32: note: state MASTER",
			"4 warnings, 2 notes; 3 virtual servers, 8 real servers, 2 vrrp instances -> (standard output)",
		},
	}, {
		name:       "without notes",
		args:       []string{"import", "--notes=false", corpus + "nat-nginx-tomcat/keepalived.conf"},
		wantStderr: []string{"warning: notification_email"},
		notStderr:  []string{"note: state MASTER"},
	}, {
		name:       "conditional lines",
		args:       []string{"import", "--config-id", "lb1", corpus + "odd-syntax/keepalived.conf"},
		wantStdout: []string{`priority          = 150`, `unicast_source    = "10.1.0.1"`},
		wantStderr: []string{`importing for config id "lb1"`},
	}, {
		name:       "the other node of the same file",
		args:       []string{"import", "--config-id=lb2", corpus + "odd-syntax/keepalived.conf"},
		wantStdout: []string{`priority          = 100`, `unicast_source    = "10.1.0.2"`},
	}, {
		name:       "strict with warnings",
		args:       []string{"import", "--strict", corpus + "unsupported/keepalived.conf"},
		wantCode:   3,
		noStdout:   true,
		wantStderr: []string{"warning: vrrp_strict", "with --strict; nothing written"},
	}, {
		name:     "strict without warnings",
		args:     []string{"import", "--strict", clean},
		wantCode: 0,
	}, {
		name:       "unreadable keepalived file",
		args:       []string{"import", broken},
		wantCode:   2,
		noStdout:   true,
		wantStderr: []string{"broken.conf:1: error: the { of vrrp_instance is never closed", "cannot be read as keepalived reads it (1 error)"},
	}, {
		name:       "missing file",
		args:       []string{"import", filepath.Join(dir, "nope.conf")},
		wantCode:   2,
		wantStderr: []string{"nope.conf", "no such file"},
	}, {
		name:       "lvsd refuses the result",
		args:       []string{"import", refused},
		wantCode:   2,
		wantStdout: []string{`vrrp_instance "B"`},
		wantStderr: []string{"Error: Virtual address in two instances", "does not validate (1 error)"},
	}, {
		name:       "one VRID, different unicast peers",
		args:       []string{"import", sharedVRID},
		wantCode:   0,
		wantStdout: []string{`vrrp_instance "A"`, `vrrp_instance "B"`},
		notStderr:  []string{"Error"},
	}, {
		name:       "overwriting the input",
		args:       []string{"import", "-o", clean, clean},
		wantCode:   2,
		wantStderr: []string{"would overwrite the keepalived configuration"},
	}, {
		name:     "no argument",
		args:     []string{"import"},
		wantCode: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runLVSD(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if tt.noStdout && stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			for _, s := range tt.notStderr {
				if strings.Contains(stderr, s) {
					t.Errorf("stderr has %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// The file -o writes is what lvsd validate accepts.
func TestImportOutputValidates(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lvsd.hcl")
	stdout, stderr, code := runLVSD(t, "import", "-o", out, corpus+"includes/keepalived.conf")
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "-> "+out) {
		t.Errorf("stderr does not name the output:\n%s", stderr)
	}
	cfg, diags := director.LoadConfig(out, nil)
	if diags.HasErrors() {
		t.Fatalf("%s does not validate: %s", out, director.FormatDiagnostics(diags, nil))
	}
	if len(cfg.VirtualServers) != 2 || len(cfg.VRRPInstances) != 1 {
		t.Errorf("%d virtual servers, %d instances", len(cfg.VirtualServers), len(cfg.VRRPInstances))
	}
	stdout, _, code = runLVSD(t, "validate", "-c", out)
	if code != 0 || !strings.Contains(stdout, "valid: 2 virtual servers, 5 real servers, 1 vrrp instance") {
		t.Errorf("lvsd validate: exit %d, %s", code, stdout)
	}
}
