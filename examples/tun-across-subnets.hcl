# TUN (IP-in-IP) mode: real servers in other subnets, even other sites.
#
#   clients --- director (VIP 198.51.100.20) ==ipip==> 10.20.0.11 (rack A)
#                                            ==ipip==> 10.30.0.11 (rack B)
#
# The director wraps each packet in an IPIP header addressed to the real
# server, which unwraps it and answers the client directly from the VIP.
# Each real server needs the ipip module, the VIP on its tunl0, no ARP for
# it, and relaxed reverse-path filtering:
#
#   modprobe ipip
#   ip addr add 198.51.100.20/32 dev tunl0 && ip link set tunl0 up
#   sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0
#   sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
#
# The encapsulation adds 20 bytes: lower the MSS or the MTU on the path if
# large packets get lost.
#
# Check it with:  lvsd validate -c examples/tun-across-subnets.hcl

virtual_server "api" {
  address   = "198.51.100.20:443"
  scheduler = "wrr"
  forward   = "tun"

  # The check goes straight to the real server's own address (not through
  # the tunnel), so it tests the server, not the encapsulation.
  check "tcp" {
    interval = "3s"
    timeout  = "1s"
  }

  real_server {
    name    = "rack-a-1"
    address = "10.20.0.11" # no port: TUN keeps the virtual port, 443
    weight  = 10
  }
  real_server {
    name    = "rack-a-2"
    address = "10.20.0.12"
    weight  = 10
  }
  real_server {
    # The remote site gets less traffic, but stays in the pool.
    name    = "rack-b-1"
    address = "10.30.0.11"
    weight  = 3
  }
}
