# A DNS service: UDP and TCP port 53 balanced over three resolvers, NAT.
#
# DNS mostly uses UDP, and falls back to TCP for large answers, so the
# same resolvers serve both. Each protocol is its own kernel service.
#
# Check it with:  lvsd validate -c examples/dns-udp.hcl

locals {
  resolvers = ["10.0.53.11", "10.0.53.12", "10.0.53.13"]
}

virtual_server "dns-udp" {
  address   = "192.0.2.53:53"
  protocol  = "udp"
  scheduler = "rr"
  forward   = "nat"

  # One-packet scheduling: every UDP query is balanced on its own, instead
  # of all queries from one client port sticking to one resolver for the
  # kernel's UDP timeout.
  one_packet = true

  # A real query: the resolver must answer NOERROR and return the address
  # we expect for a name we control.
  check "dns" {
    name     = "canary.example.com"
    type     = "A"
    expect   = ["192.0.2.200"]
    interval = "2s"
    timeout  = "1s"
  }

  dynamic "real_server" {
    for_each = local.resolvers
    content {
      address = "${real_server.value}:53"
    }
  }
}

virtual_server "dns-tcp" {
  address   = "192.0.2.53:53"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # The very same check as above: lvsd runs it once per resolver and feeds
  # both virtual servers with the result.
  check "dns" {
    name     = "canary.example.com"
    type     = "A"
    expect   = ["192.0.2.200"]
    interval = "2s"
    timeout  = "1s"
  }

  dynamic "real_server" {
    for_each = local.resolvers
    content {
      address = "${real_server.value}:53"
    }
  }
}
