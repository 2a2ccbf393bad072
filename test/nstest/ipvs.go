package nstest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Kernel tests (tests that need a real IPVS) are named TestKernel* and start
// with RequireIPVS. On a host without IPVS they skip with the reason; the
// kernel lab (test/lab) runs every TestKernel* of a package in a VM whose
// kernel has IPVS, so `make test` always runs them.

var ipvsOnce struct {
	sync.Once
	reason string
}

// RequireIPVS skips t unless this kernel has IPVS and namespaces can be made.
func RequireIPVS(t testing.TB) {
	t.Helper()
	Skip(t)
	ipvsOnce.Do(func() {
		if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
			return
		}
		if p, err := exec.LookPath("modprobe"); err == nil {
			_ = exec.Command(p, "ip_vs").Run()
			if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
				return
			}
		}
		ipvsOnce.reason = "this kernel has no IPVS (no /proc/net/ip_vs): make test runs it in the kernel lab VM"
	})
	if ipvsOnce.reason != "" {
		t.Skip(ipvsOnce.reason)
	}
}

// InLab reports whether the test runs inside the kernel lab VM (the lab's
// init sets LVSD_LAB=1). Timing bounds may be wider there: the VM is
// software-emulated.
func InLab() bool { return os.Getenv("LVSD_LAB") == "1" }
