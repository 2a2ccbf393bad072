# A DR (direct routing) web cluster.
#
#   clients --- router --- switch --- director (VIP 192.0.2.80 on eth0)
#                             |
#                             +------ web1..web4 (192.0.2.11-14)
#
# In DR mode the director only rewrites the destination MAC address: the
# packet reaches the real server still addressed to the VIP, and the real
# server answers the client directly (replies do not pass the director).
# So the director and the real servers must share a layer-2 segment, the
# real servers cannot change the port, and each real server must accept
# packets for the VIP without answering ARP for it:
#
#   ip addr add 192.0.2.80/32 dev lo
#   sysctl -w net.ipv4.conf.all.arp_ignore=1
#   sysctl -w net.ipv4.conf.all.arp_announce=2
#
# Check it with:  lvsd validate -c examples/dr-web.hcl

virtual_server "web" {
  # HTTP and HTTPS share one set of real servers: one block, two services
  # (keepalived's virtual_server_group).
  addresses = ["192.0.2.80:80", "192.0.2.80:443"]
  protocol  = "tcp"
  forward   = "dr"

  # Maglev hashing: a client keeps its server while the set of servers
  # changes little; mh-fallback moves a client whose server is at weight 0.
  scheduler       = "mh"
  scheduler_flags = ["mh-fallback"]

  # The real servers below serve both ports 80 and 443, so the check has
  # to say which port it probes.
  check "http" {
    port     = 80
    path     = "/healthz"
    interval = "1s"
    timeout  = "500ms"
    fall     = 2
  }

  # No port: in DR mode a real server receives each connection on the
  # virtual port (80 or 443).
  real_server {
    name    = "web1"
    address = "192.0.2.11"
  }
  real_server {
    name    = "web2"
    address = "192.0.2.12"
  }
  real_server {
    name    = "web3"
    address = "192.0.2.13"
  }
  real_server {
    name    = "web4"
    address = "192.0.2.14"
    # Cap this older machine at 2000 active connections; it takes new ones
    # again below 1500.
    upper_threshold = 2000
    lower_threshold = 1500
  }
}
