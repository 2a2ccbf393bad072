# A mistake inside a dynamic block is reported once, at the template, and
# every element's own mistakes are reported with their value.
locals {
  servers = ["10.0.0.1", "10.0.0.2", "10.0.0.300"]
}

virtual_server "d" {
  address = "192.0.2.1:80"
  dynamic "real_server" {
    for_each = local.servers
    content {
      address = real_server.value # error@17: "10.0.0.300" is not an address
      weight  = 70000 # error@17: weight must be between 0 and 65535
    }
  }
  dynamic "real_server" {
    for_each = 42 # error@16: Invalid dynamic for_each value
    content {
      address = "10.0.1.1:80"
    }
  }
}
