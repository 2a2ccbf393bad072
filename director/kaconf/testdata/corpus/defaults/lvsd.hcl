# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:4
virtual_server "192.0.2.70_8000-udp" {
  address   = "192.0.2.70:8000"
  protocol  = "udp"
  scheduler = "wlc" # keepalived's default
  forward   = "nat" # keepalived's default

  # from keepalived.conf:6 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval       = "60s"
    timeout        = "5s"
    rise           = 1    # keepalived: up after one success
    fall           = 2    # keepalived: retry 1
    retry_interval = "1s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:5
  real_server {
    address = "10.0.7.1:8000"
  }

  # from keepalived.conf:9
  real_server {
    address = "10.0.7.2:8000"
  }
}
