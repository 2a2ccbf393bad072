# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:3
virtual_server "192.0.2.53_53-udp" {
  address    = "192.0.2.53:53"
  protocol   = "udp"
  scheduler  = "rr"
  forward    = "dr"
  one_packet = true

  # from keepalived.conf:11 (DNS_CHECK)
  # the same on both real servers
  check "dns" {
    name     = "canary.example.com"
    type     = "A"
    interval = "5s"
    timeout  = "2s"
    rise     = 1 # keepalived: up after one success
    fall     = 4 # keepalived: retry 3
  }

  # from keepalived.conf:10
  real_server {
    address = "192.0.2.153:53"
  }

  # from keepalived.conf:17
  real_server {
    address = "192.0.2.154:53"
  }
}

# from keepalived.conf:26
virtual_server "192.0.2.53_53" {
  address   = "192.0.2.53:53"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "dr"

  # from keepalived.conf:33 (DNS_CHECK)
  # the same on both real servers
  check "dns" {
    name     = "."
    type     = "SOA"
    interval = "5s"
    timeout  = "2s"
    rise     = 1 # keepalived: up after one success
    fall     = 4 # keepalived: retry 3
  }

  # from keepalived.conf:32
  real_server {
    address = "192.0.2.153:53"
  }

  # from keepalived.conf:37
  real_server {
    address = "192.0.2.154:53"
  }
}

# from keepalived.conf:46
virtual_server "192.0.2.54_7-udp" {
  address   = "192.0.2.54:7"
  protocol  = "udp"
  scheduler = "rr"
  forward   = "nat"

  # from keepalived.conf:52
  real_server {
    address = "10.0.6.71:7"

    # from keepalived.conf:53 (UDP_CHECK)
    check "udp" {
      send_hex       = "70 69 6e 67"
      expect         = "^ping" # keepalived: require_reply 70 69 6e 67
      interval       = "10s"
      timeout        = "4s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }

  # from keepalived.conf:59
  real_server {
    address = "10.0.6.72:7"

    # from keepalived.conf:60 (UDP_CHECK)
    check "udp" {
      expect         = "(?s).*" # keepalived: require_reply (any reply)
      interval       = "10s"
      timeout        = "4s"
      rise           = 1    # keepalived: up after one success
      fall           = 2    # keepalived: retry 1
      retry_interval = "1s" # keepalived: delay_before_retry
    }
  }
}
