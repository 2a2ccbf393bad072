# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:9
virtual_server "203.0.113.30_80" {
  address   = "203.0.113.30:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # from keepalived.conf:18 (HTTP_GET, url 1 of 3)
  # the same on both real servers
  check "http" {
    path           = "/index.html"
    host           = "www.example.com"
    body_md5       = "9b3a0c85a887a256d6939da88aabd8cd"
    interval       = "6s"
    timeout        = "3s"
    rise           = 1    # keepalived: up after one success
    fall           = 4    # keepalived: retry 3
    retry_interval = "3s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:18 (HTTP_GET, url 2 of 3)
  # the same on both real servers
  check "http" {
    path           = "/status"
    host           = "www.example.com"
    status         = ["200", "204"]
    interval       = "6s"
    timeout        = "3s"
    rise           = 1    # keepalived: up after one success
    fall           = 4    # keepalived: retry 3
    retry_interval = "3s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:18 (HTTP_GET, url 3 of 3)
  # the same on both real servers
  check "http" {
    path           = "/api/ping"
    host           = "www.example.com"
    body_regex     = "(?i)pong|ok"
    interval       = "6s"
    timeout        = "3s"
    rise           = 1    # keepalived: up after one success
    fall           = 4    # keepalived: retry 3
    retry_interval = "3s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:16
  real_server {
    address = "10.0.4.41:80"
    weight  = 1
  }

  # from keepalived.conf:37
  real_server {
    address = "10.0.4.42:80"
    weight  = 1
  }
}

# from keepalived.conf:60
virtual_server "203.0.113.30_443" {
  address   = "203.0.113.30:443"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # from keepalived.conf:67 (SSL_GET)
  # the same on both real servers
  check "https" {
    path            = "/index.html"
    host            = "secure.example.com"
    body_md5        = "9b3a0c85a887a256d6939da88aabd8cd"
    tls_server_name = "secure.example.com"
    tls_cert_file   = "/etc/keepalived/ssl/client.pem"
    tls_key_file    = "/etc/keepalived/ssl/client.key"
    interval        = "6s"
    timeout         = "3s"
    rise            = 1    # keepalived: up after one success
    fall            = 2    # keepalived: retry 1
    retry_interval  = "3s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:66
  real_server {
    address = "10.0.4.41:443"
  }

  # from keepalived.conf:77
  real_server {
    address = "10.0.4.42:443"
  }
}
