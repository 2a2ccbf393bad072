package scenario

import (
	"fmt"
	"strings"
	"time"
)

// ConfigSpec says what the lab's lvsd configuration holds. One file serves
// both directors (-var node=lb1 / lb2), as a site would deploy it.
type ConfigSpec struct {
	Mode Mode
	// Dir is the lab's directory; each director's files are in Dir/<node>.
	Dir string
	// VRRP runs the vrrp_instance; without it nobody owns the VIP unless
	// the lab adds it by hand (StaticVIP).
	VRRP bool
	// Advert is the VRRP advert interval (v3).
	Advert time.Duration
	// Preempt: a returning lb1 takes the master role back.
	Preempt bool
	// Sync runs the IPVS connection sync daemon following the instance.
	Sync bool
	// CheckInterval is the real servers' http check interval (fall 2,
	// rise 2), CheckTimeout its timeout.
	CheckInterval, CheckTimeout time.Duration
	// Extra is appended to the file.
	Extra string
}

// Instance is the name of the lab's VRRP instance.
const Instance = "VI_1"

// Render writes the configuration.
func (c ConfigSpec) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# lvsd lab, %s mode: two directors (lb1, lb2) sharing the VIP %s by VRRP,
# %d web real servers and a sorry server. One file for both directors:
#   lvsd run -c lvsd.hcl -var node=lb1      (and node=lb2 on the other)
variable "node" {
  type = string
}

locals {
  nodes = {
    lb1 = { priority = 150 }
    lb2 = { priority = 100 }
  }
  dir = "%s/${var.node}"
}

node_name = var.node

control {
  socket = "${local.dir}/lvsd.sock"
}

`, strings.ToUpper(string(c.Mode)), VIP, ServerNum, c.Dir)
	if c.VRRP {
		fmt.Fprintf(&b, "vrrp {\n  state_file = \"${local.dir}/vrrp.state\"\n}\n\n")
		vips := fmt.Sprintf("%q", fmt.Sprintf("%s/%d", VIP, FrontNet.Bits()))
		if c.Mode == NAT {
			// The real servers' gateway moves with the VIP: NAT replies
			// must go back through the master.
			vips += fmt.Sprintf(",\n    { address = %q, interface = \"eth1\" },", fmt.Sprintf("%s/%d", BackGW, BackNet.Bits()))
		}
		fmt.Fprintf(&b, `vrrp_instance %q {
  interface         = "eth0"
  vrid              = 51
  priority          = local.nodes[var.node].priority
  version           = 3
  advert_interval   = %q
  preempt           = %t
  virtual_addresses = [
    %s
  ]
}

`, Instance, dur(c.Advert), c.Preempt, vips)
	}
	if c.Sync && c.VRRP {
		fmt.Fprintf(&b, `ipvs {
  # The master director multicasts its connection table; the backup keeps
  # it, so established connections survive a failover.
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = %q
  }
}

`, Instance)
	}
	fwd := map[Mode]string{NAT: "nat", DR: "dr", TUN: "tun"}[c.Mode]
	port := func(i int) string {
		if c.Mode == NAT {
			return fmt.Sprintf("%s:%d", ServerAddr(c.Mode, i), VIPPort)
		}
		return ServerAddr(c.Mode, i).String() // DR/TUN: the virtual port
	}
	fmt.Fprintf(&b, `virtual_server "web" {
  address       = "%s:%d"
  scheduler     = "rr"
  forward       = %q
  drain_timeout = "5s"

  check "http" {
    path     = "/healthz"
    interval = %q
    timeout  = %q
    rise     = 2
    fall     = 2
  }
`, VIP, VIPPort, fwd, dur(c.CheckInterval), dur(c.checkTimeout()))
	for i, name := range ServerNames() {
		fmt.Fprintf(&b, "\n  real_server {\n    name    = %q\n    address = %q\n  }\n", name, port(i))
	}
	fmt.Fprintf(&b, "\n  # Below quorum (every web server down) this one answers.\n  sorry_server {\n    address = %q\n  }\n}\n", port(-1))
	if c.Extra != "" {
		b.WriteString("\n" + c.Extra)
	}
	return b.String()
}

// dur writes a duration in Go's syntax, as the configuration takes it.
func dur(d time.Duration) string { return d.String() }

func (c ConfigSpec) checkTimeout() time.Duration {
	if c.CheckTimeout > 0 {
		return c.CheckTimeout
	}
	return c.CheckInterval
}
