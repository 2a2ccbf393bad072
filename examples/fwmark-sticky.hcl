# HTTP and HTTPS sticky together: a firewall-mark service with persistence.
#
# A shop keeps the cart in the web server's memory. A client that browses
# over HTTP and pays over HTTPS must reach the same server for both. Two
# services (80 and 443) would each pick a server on their own; one service
# for a firewall mark set on both ports makes persistence cover both.
#
# The mark is set before routing, e.g. with nftables:
#
#   table ip lvsd {
#     chain prerouting {
#       type filter hook prerouting priority mangle;
#       ip daddr 192.0.2.50 tcp dport { 80, 443 } meta mark set 1
#     }
#   }
#
# and the VIP must be an address of this director (here, a DR setup; see
# dr-web.hcl for what the real servers need).
#
# Check it with:  lvsd validate -c examples/fwmark-sticky.hcl

virtual_server "shop" {
  fwmark    = 1      # matches `meta mark set 1` above
  family    = "inet" # IPv4 (the default; "inet6" for IPv6 marks)
  scheduler = "wlc"
  forward   = "dr"

  # One client (by /24, so a client behind a few proxies of one network
  # stays too) goes to the same server for 30 minutes after its last
  # connection, on any marked port.
  persistence {
    timeout = "30m"
    netmask = "255.255.255.0"
  }

  # A firewall-mark service has no port of its own, so each check says
  # which port it probes. Both must pass for a server to be up.
  check "http" {
    port = 80
    path = "/healthz"
  }
  check "https" {
    port            = 443
    path            = "/healthz"
    tls_server_name = "shop.example.com"
  }

  # No port: each connection keeps its own (80 or 443).
  real_server {
    name    = "shop1"
    address = "192.0.2.61"
  }
  real_server {
    name    = "shop2"
    address = "192.0.2.62"
  }
  real_server {
    name    = "shop3"
    address = "192.0.2.63"
  }
}
