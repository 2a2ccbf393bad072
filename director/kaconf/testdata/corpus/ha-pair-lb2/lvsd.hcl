# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:6 (router_id)
node_name = "lb2"

# from keepalived.conf:11
vrrp_script "chk_uplink" {
  command  = ["/usr/bin/ping", "-c", "1", "-W", "1", "203.0.113.1"]
  interval = "2s"
  timeout  = "2s"
  rise     = 2
  fall     = 3
  weight   = -60
}

# from keepalived.conf:20
vrrp_instance "VI_WEB" {
  interface         = "eth0"
  vrid              = 60
  priority          = 100
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  preempt_delay     = "60s"
  unicast_source    = "203.0.113.12"
  unicast_peers     = ["203.0.113.11"]
  virtual_addresses = ["203.0.113.20/24"]

  track_interface "eth1" {}

  track_script "chk_uplink" {}

  notify "any" {
    command = ["/usr/local/sbin/keepalived-notify.sh"]
  }
}

# from keepalived.conf:43
virtual_server "203.0.113.20_80" {
  address   = "203.0.113.20:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # from keepalived.conf:50 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval = "3s"
    timeout  = "2s"
    rise     = 1 # keepalived: up after one success
    fall     = 3 # keepalived: retry 2
  }

  # from keepalived.conf:49
  real_server {
    address = "10.0.1.21:80"
  }

  # from keepalived.conf:56
  real_server {
    address = "10.0.1.22:80"
  }
}
