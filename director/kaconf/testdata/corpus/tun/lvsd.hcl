# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5 (router_id)
node_name = "tun-director"

# from keepalived.conf:8
vrrp_instance "VI_TUN" {
  interface         = "eth0"
  vrid              = 90
  priority          = 200
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["198.51.100.50/32"]
}

# from keepalived.conf:19
virtual_server "198.51.100.50_80" {
  address   = "198.51.100.50:80"
  protocol  = "tcp"
  scheduler = "wrr"
  forward   = "tun"

  # from keepalived.conf:25
  real_server {
    address = "192.0.2.101:80"
    weight  = 3

    # from keepalived.conf:27 (TCP_CHECK)
    check "tcp" {
      interval       = "10s"
      timeout        = "4s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }

    # from keepalived.conf:30 (PING_CHECK)
    check "icmp" {
      interval       = "10s"
      timeout        = "5s"
      rise           = 1    # keepalived: up after one success
      fall           = 3    # keepalived: retry 2
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }

  # from keepalived.conf:34
  real_server {
    address = "203.0.113.102:80"
    weight  = 1

    # from keepalived.conf:36 (TCP_CHECK)
    check "tcp" {
      interval       = "10s"
      timeout        = "4s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }

    # from keepalived.conf:39 (PING_CHECK)
    check "icmp" {
      interval       = "10s"
      timeout        = "5s"
      rise           = 1    # keepalived: up after one success
      fall           = 3    # keepalived: retry 2
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }

  # from keepalived.conf:44
  real_server {
    address = "203.0.113.103"
    weight  = 1

    # from keepalived.conf:46 (TCP_CHECK)
    check "tcp" {
      port           = 8080
      interval       = "10s"
      timeout        = "4s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }
}
