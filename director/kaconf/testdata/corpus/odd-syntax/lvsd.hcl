# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:15 (router_id)
node_name = "odd-eth0"

# from keepalived.conf:18
vrrp_instance "VI_ODD" {
  interface         = "eth0"
  vrid              = 200
  priority          = 150
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  unicast_source    = "10.1.0.1"
  unicast_peers     = ["10.1.0.2"]
  virtual_addresses = ["192.0.2.200/24"]

  notify "any" {
    command = ["/usr/local/bin/vrrp-notify", "two words", "plain#hash"]
  }
}

# from keepalived.conf:34
vrrp_instance "VI_OWNER" {
  interface         = "eth1"
  vrid              = 201
  priority          = 255 # keepalived: state MASTER without priority
  version           = 2   # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["192.0.2.201"]
}

# from keepalived.conf:45
virtual_server "192.0.2.200_80" {
  address   = "192.0.2.200:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # from keepalived.conf:51 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval       = "2.5s"
    timeout        = "2s"
    rise           = 1    # keepalived: up after one success
    fall           = 2    # keepalived: retry 1
    retry_interval = "1s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:51
  real_server {
    address = "10.1.0.11:80"
  }

  # from keepalived.conf:52
  real_server {
    address = "10.1.0.12:80"
  }
}
