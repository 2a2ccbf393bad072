# Fifty real servers without fifty blocks: locals, for-expressions and
# dynamic blocks.
#
# `dynamic "real_server"` writes one real_server block per element of
# for_each; inside `content`, real_server.key is the element's index (or
# map key) and real_server.value the element.
#
# See what it expands to:
#   lvsd validate -c examples/fifty-servers.hcl --print
# Try another size:
#   lvsd validate -c examples/fifty-servers.hcl -var servers=80
# validate: -var servers=80

variable "servers" {
  type        = number
  default     = 50
  description = "How many web servers: 10.0.8.10 onwards."
}

variable "heavy" {
  type        = list(string)
  default     = ["web07", "web23"]
  description = "Servers with twice the CPUs, which get twice the weight."
}

locals {
  # [{name = "web01", address = "10.0.8.10"}, {name = "web02", ...}, ...]
  web = [
    for i in range(var.servers) : {
      name    = format("web%02d", i + 1)
      address = cidrhost("10.0.8.0/24", 10 + i)
    }
  ]

  # The services all those servers answer, each a virtual server.
  ports = {
    http  = 80
    https = 443
  }
}

dynamic "virtual_server" {
  for_each = local.ports
  labels   = ["web-${svc.key}"] # "web-http", "web-https"
  iterator = svc                 # instead of virtual_server.key/.value
  content {
    address   = "192.0.2.100:${svc.value}"
    scheduler = "wrr"
    forward   = "dr"

    check "tcp" {
      interval = "5s"
      timeout  = "2s"
    }

    # A quarter of the servers must be up for the service to count as up.
    quorum = floor(var.servers / 4) * 100

    dynamic "real_server" {
      for_each = local.web
      iterator = rs
      content {
        name    = rs.value.name
        address = rs.value.address # DR: no port, the virtual one is used
        weight  = contains(var.heavy, rs.value.name) ? 200 : 100
      }
    }
  }
}
