# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5 (router_id)
node_name = "dr-director"

# from keepalived.conf:8
vrrp_instance "VI_DR" {
  interface         = "eth0"
  vrid              = 80
  priority          = 100
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "2s"
  preempt           = false # keepalived: nopreempt
  virtual_addresses = ["192.0.2.80"]
}

# from keepalived.conf:26
virtual_server "WEB" {
  addresses       = ["192.0.2.80:80", "192.0.2.80:443"]
  protocol        = "tcp"
  scheduler       = "mh"
  scheduler_flags = ["mh-fallback"]
  forward         = "dr"

  # from keepalived.conf:34 (HTTP_GET)
  # the same on all 4 real servers
  check "http" {
    path     = "/healthz"
    status   = ["200-299"]
    port     = 80
    interval = "2s"
    timeout  = "1s"
    rise     = 1 # keepalived: up after one success
    fall     = 2 # keepalived: retry 1
  }

  # from keepalived.conf:33
  real_server {
    address = "192.0.2.11"
  }

  # from keepalived.conf:45
  real_server {
    address = "192.0.2.12"
  }

  # from keepalived.conf:57
  real_server {
    address = "192.0.2.13"
  }

  # from keepalived.conf:69
  real_server {
    address         = "192.0.2.14"
    weight          = 1
    upper_threshold = 2000
    lower_threshold = 1500
  }
}
