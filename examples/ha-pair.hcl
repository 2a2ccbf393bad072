# Two directors sharing the VIPs by VRRP, NAT in front of a web tier.
# One file for both nodes; a variable says which node this is:
#
#   on lb1:  lvsd run -c /etc/lvsd/lvsd.hcl -var node=lb1
#   on lb2:  lvsd run -c /etc/lvsd/lvsd.hcl -var node=lb2
#            (or LVSD_VAR_node=lb2 in the service's environment)
#
#            clients
#               |  203.0.113.10 (VIP, outside)
#      +--------+--------+
#     lb1               lb2        eth0: 203.0.113.11 / .12
#      |  10.0.1.1 (VIP, inside)   eth1: 10.0.1.251 / .252
#      +--------+--------+
#               |
#         web1, web2, web3 (10.0.1.11-13; default gateway 10.0.1.1)
#
# In NAT mode the replies go back through the director, so the real
# servers' default gateway must move with the outside VIP: the two VIPs
# are two VRRP instances in one sync group, which always fail over
# together. Both directors keep the whole IPVS table programmed (warm
# standby), and the kernel's connection sync daemon copies the master's
# connections to the backup, so established connections survive a
# failover.
#
# Check both nodes with:
#   lvsd validate -c examples/ha-pair.hcl -var node=lb1
#   lvsd validate -c examples/ha-pair.hcl -var node=lb2
# validate: -var node=lb1
# validate: -var node=lb2

variable "node" {
  type        = string
  default     = "lb1"
  description = "Which director this file runs on: lb1 or lb2."
}

locals {
  nodes = {
    lb1 = { outside = "203.0.113.11", inside = "10.0.1.251", priority = 150 }
    lb2 = { outside = "203.0.113.12", inside = "10.0.1.252", priority = 100 }
  }
  # An unknown node name is an error here.
  me = local.nodes[var.node]
  # The other director(s), for unicast VRRP.
  peers_outside = [for name, n in local.nodes : n.outside if name != var.node]
  peers_inside  = [for name, n in local.nodes : n.inside if name != var.node]
}

node_name = var.node

logging {
  level  = "info"
  format = "json"
}

control {
  socket = "/run/lvsd/lvsd.sock"
  mode   = "0660" # let the "lvsd" group run `lvsd status`
}

metrics {
  listen = "127.0.0.1:9587"
}

ipvs {
  # Copy connections from the master to the backup over eth1, following
  # the outside instance: master daemon while it is MASTER, backup daemon
  # otherwise. The sync id defaults to that instance's vrid (51).
  sync_daemon {
    interface     = "eth1"
    vrrp_instance = "outside"
  }
}

vrrp {
  # Always holds the current state of every instance, for monitoring.
  state_file = "/run/lvsd/vrrp.state"
}

# Watch this director's uplink: when the upstream router stops answering,
# the instance goes to FAULT (weight 0), the sync group follows, and the
# peer takes both VIPs. (Inside a sync group a tracked object always
# works this way: a weight would move one instance, which the group holds
# back.)
vrrp_script "uplink" {
  command  = ["/usr/bin/ping", "-c", "1", "-W", "1", "203.0.113.1"]
  interval = "2s"
  timeout  = "2s"
  fall     = 3
  rise     = 2
}

vrrp_instance "outside" {
  interface         = "eth0"
  vrid              = 51
  priority          = local.me.priority
  version           = 3
  advert_interval   = "1s"
  virtual_addresses = ["203.0.113.10/24"]

  # Unicast adverts (no multicast on this network).
  unicast_source = local.me.outside
  unicast_peers  = local.peers_outside

  # After a failover, wait until lb1 has been up for a minute before it
  # takes the master role back (its checks need time to warm up).
  preempt       = true
  preempt_delay = "60s"

  track_script "uplink" {}  # FAULT while the uplink does not answer
  track_interface "eth1" {} # FAULT while the inside link is down

  # If every web server is down here (as this director's checks see them),
  # let the other director try.
  track_virtual_server "web" {}
}

vrrp_instance "inside" {
  interface         = "eth1"
  vrid              = 52
  priority          = local.me.priority
  version           = 3
  virtual_addresses = ["10.0.1.1/24"]
  unicast_source    = local.me.inside
  unicast_peers     = local.peers_inside
  preempt_delay     = "60s"
}

# Both VIPs move together: the real servers' gateway must be on the node
# that holds the outside VIP.
vrrp_sync_group "director" {
  instances = ["outside", "inside"]

  # lvsd appends: GROUP|INSTANCE, the name, the new state, the priority.
  notify "any" {
    command = ["/usr/local/bin/lvsd-notify"]
    timeout = "10s"
  }
}

virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "wlc"
  forward   = "nat"

  check "http" {
    path     = "/healthz"
    interval = "2s"
    timeout  = "1s"
  }

  real_server {
    name    = "web1"
    address = "10.0.1.11:80"
  }
  real_server {
    name    = "web2"
    address = "10.0.1.12:80"
  }
  real_server {
    name    = "web3"
    address = "10.0.1.13:80"
  }
}
