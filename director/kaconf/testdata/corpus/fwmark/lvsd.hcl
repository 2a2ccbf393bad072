# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5
vrrp_instance "VI_FWM" {
  interface         = "eth0"
  vrid              = 100
  priority          = 120
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["192.0.2.90/24"]
}

# from keepalived.conf:15
virtual_server "fwmark-10" {
  fwmark          = 10
  scheduler       = "sh"
  scheduler_flags = ["sh-port"]
  forward         = "dr"

  persistence {
    timeout = "1800s"
    netmask = "255.255.255.0"
  }

  # from keepalived.conf:23
  real_server {
    address = "192.0.2.31"
    weight  = 10

    # from keepalived.conf:25 (TCP_CHECK)
    check "tcp" {
      port           = 80
      interval       = "5s"
      timeout        = "3s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }

    # from keepalived.conf:29 (TCP_CHECK)
    check "tcp" {
      port           = 443
      interval       = "5s"
      timeout        = "3s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }

  # from keepalived.conf:36
  real_server {
    address = "192.0.2.32"
    weight  = 10

    # from keepalived.conf:38 (TCP_CHECK)
    check "tcp" {
      port           = 80
      interval       = "5s"
      timeout        = "3s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }
}
