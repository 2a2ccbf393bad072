# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:4
virtual_server "192.0.2.60_3306" {
  address   = "192.0.2.60:3306"
  protocol  = "tcp"
  scheduler = "wrr"
  forward   = "nat"

  # from keepalived.conf:10
  real_server {
    address = "10.0.3.31:3306"
    weight  = 50

    # from keepalived.conf:12 (MISC_CHECK)
    check "exec" {
      command        = ["/usr/local/libexec/mysql-capacity", "--host", "10.0.3.31", "--max-lag", "30"]
      user           = "nobody"
      dynamic_weight = true
      interval       = "10s"
      timeout        = "5s"
      rise           = 1 # keepalived: up after one success
      fall           = 1 # keepalived: retry 0
    }
  }

  # from keepalived.conf:19
  real_server {
    address = "10.0.3.32:3306"
    weight  = 50

    # from keepalived.conf:21 (MISC_CHECK)
    check "exec" {
      command        = ["/usr/local/libexec/mysql-capacity", "--host", "10.0.3.32", "--max-lag", "30"]
      user           = "nobody"
      dynamic_weight = true
      interval       = "10s"
      timeout        = "5s"
      rise           = 1 # keepalived: up after one success
      fall           = 1 # keepalived: retry 0
    }
  }
}
