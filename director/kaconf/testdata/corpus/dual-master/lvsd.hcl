# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5 (router_id)
node_name = "lb1"

# from keepalived.conf:9
vrrp_instance "VI_A" {
  interface         = "eth0"
  vrid              = 11
  priority          = 150
  version           = 3
  advert_interval   = "500ms"
  unicast_source    = "10.10.0.1"
  unicast_peers     = ["10.10.0.2"]
  virtual_addresses = ["198.51.100.11/24"]
}

# from keepalived.conf:24
vrrp_instance "VI_B" {
  interface         = "eth0"
  vrid              = 12
  priority          = 100
  version           = 3
  advert_interval   = "500ms"
  unicast_source    = "10.10.0.1"
  unicast_peers     = ["10.10.0.2"]
  virtual_addresses = ["198.51.100.12/24"]
}

# from keepalived.conf:39
virtual_server "198.51.100.11_80" {
  address   = "198.51.100.11:80"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "dr"

  # from keepalived.conf:45 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval = "2s"
    timeout  = "1s"
    rise     = 1 # keepalived: up after one success
    fall     = 3 # keepalived: retry 2
  }

  # from keepalived.conf:44
  real_server {
    address = "198.51.100.21:80"
  }

  # from keepalived.conf:51
  real_server {
    address = "198.51.100.22:80"
  }
}

# from keepalived.conf:60
virtual_server "198.51.100.12_80" {
  address   = "198.51.100.12:80"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "dr"

  # from keepalived.conf:66 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval = "2s"
    timeout  = "1s"
    rise     = 1 # keepalived: up after one success
    fall     = 3 # keepalived: retry 2
  }

  # from keepalived.conf:65
  real_server {
    address = "198.51.100.21:80"
  }

  # from keepalived.conf:72
  real_server {
    address = "198.51.100.22:80"
  }
}
