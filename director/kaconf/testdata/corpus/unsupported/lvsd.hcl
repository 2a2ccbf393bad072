# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5 (router_id)
node_name = "unsupported"

# from keepalived.conf:23
vrrp_instance "VI_X" {
  interface                  = "eth0"
  vrid                       = 250
  priority                   = 100
  version                    = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval            = "1s"
  multicast_group            = "224.0.0.19"
  virtual_addresses          = ["192.0.2.250/24"]
  virtual_addresses_excluded = ["192.0.2.251/24", "2001:db8::251/64"]
}

# from keepalived.conf:50
virtual_server "192.0.2.250_443" {
  address   = "192.0.2.250:443"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "tun"

  # from keepalived.conf:60
  real_server {
    address = "192.0.2.21:443"

    # from keepalived.conf:62 (SSL_GET)
    check "https" {
      path           = "/"
      interval       = "30s"
      timeout        = "5s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "3s" # keepalived: delay_before_retry
    }
  }

  # from keepalived.conf:74
  real_server {
    address = "192.0.2.22:443"
  }
}
