package director

import "errors"

// errNoIPVS refuses a reload that needs IPVS on a daemon that runs without.
var errNoIPVS = errors.New("this lvsd runs without IPVS (the kernel had none when it started): a configuration with virtual servers, IPVS timeouts or a sync daemon needs a restart on a kernel with IPVS")

// NeedsIPVS reports whether the configuration asks anything of the kernel's
// IPVS: virtual servers, connection timeouts or a connection sync daemon. A
// director that only moves addresses with VRRP (keepalived's VRRP-only
// nodes) needs none, and runs on a kernel without IPVS.
func (c *Config) NeedsIPVS() bool {
	return len(c.VirtualServers) > 0 || c.IPVS.Timeouts != nil || c.IPVS.SyncDaemon != nil
}
