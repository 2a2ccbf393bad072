# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:3
vrrp_instance "VI_6" {
  interface         = "eth0"
  vrid              = 66
  priority          = 100
  version           = 3
  advert_interval   = "300ms"
  virtual_addresses = ["fe80::66/64", "2001:db8:66::100/64"]
}

# from keepalived.conf:15
virtual_server "2001-db8-66--100_443" {
  address   = "[2001:db8:66::100]:443"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "nat"

  persistence {
    timeout = "120s"
    netmask = "64"
  }

  # from keepalived.conf:24 (SSL_GET)
  # the same on both real servers
  check "https" {
    path     = "/healthz"
    interval = "3s"
    timeout  = "1s"
    rise     = 1 # keepalived: up after one success
    fall     = 2 # keepalived: retry 1
  }

  # from keepalived.conf:23
  real_server {
    address = "[2001:db8:67::11]:8443"
  }

  # from keepalived.conf:31
  real_server {
    address = "[2001:db8:67::12]:8443"
  }
}
