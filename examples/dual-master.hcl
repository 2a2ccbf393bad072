# Two directors, both active ("dual master"): each is the VRRP master of
# one VIP and the backup of the other. DNS publishes both VIPs, so both
# directors carry traffic; if one fails, the other holds both VIPs.
#
#   lb1: master for 192.0.2.101 (instance "vip-a"), backup for .102
#   lb2: master for 192.0.2.102 (instance "vip-b"), backup for .101
#
# One file for both nodes:
#   lvsd run -c /etc/lvsd/lvsd.hcl -var node=lb1     (on lb1)
#   lvsd run -c /etc/lvsd/lvsd.hcl -var node=lb2     (on lb2)
#
# DR mode (see dr-web.hcl for the real servers' side): both VIPs must be
# on the real servers' loopback.
#
# validate: -var node=lb1
# validate: -var node=lb2

variable "node" {
  type    = string
  default = "lb1"
}

locals {
  # Priority of each node in each instance: the owner of a VIP gets 150.
  priority = {
    lb1 = { a = 150, b = 100 }
    lb2 = { a = 100, b = 150 }
  }[var.node]

  web = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
}

node_name = var.node

ipvs {
  # Each node is a sync master for its own connections and a sync backup
  # for its peer's, so either can take over the other's VIP with the
  # connections intact.
  sync_daemon {
    interface = "eth0"
    role      = "both"
    sync_id   = 60
  }
}

vrrp_instance "vip-a" {
  interface         = "eth0"
  vrid              = 61
  priority          = local.priority.a
  virtual_addresses = ["192.0.2.101/24"]
}

vrrp_instance "vip-b" {
  interface         = "eth0"
  vrid              = 62
  priority          = local.priority.b
  virtual_addresses = ["192.0.2.102/24"]
}

# The same web servers behind both VIPs. Both directors program both
# virtual servers; traffic reaches a director only for the VIPs it holds.
dynamic "virtual_server" {
  for_each = { web-a = "192.0.2.101", web-b = "192.0.2.102" }
  labels   = [virtual_server.key]
  content {
    address   = "${virtual_server.value}:80"
    scheduler = "wlc"
    forward   = "dr"

    check "http" {
      path = "/healthz"
    }

    dynamic "real_server" {
      for_each = local.web
      content {
        name    = "web${real_server.key + 1}"
        address = real_server.value
      }
    }
  }
}
