# /etc/lvsd/lvsd.hcl: lvsd's configuration (installed by make install only
# where none existed). It declares nothing yet, so lvsd runs and changes
# nothing; uncomment and adapt the virtual server below, check it, and
# reload:
#
#   lvsd validate -c /etc/lvsd/lvsd.hcl
#   lvsd plan -c /etc/lvsd/lvsd.hcl      # what the kernel would get
#   systemctl reload lvsd                # or: lvsd reload
#
# The reference is docs/config.md; whole deployments (NAT, DR, TUN, a VRRP
# pair) are in the examples/ directory of the source. Coming from
# keepalived: lvsd import /etc/keepalived/keepalived.conf > lvsd.hcl

# This director's name in logs, metrics and hooks (default: the host name).
# node_name = "lb1"

logging {
  level  = "info"
  format = "text" # "json" for a log collector
}

# The control API used by lvsd status, drain, enable, disable, reload and
# failover. Mode 0600: root only; "0660" lets the socket's group in.
control {
  socket = "/run/lvsd/lvsd.sock"
  mode   = "0600"
}

# Prometheus metrics, on loopback; remove the block to turn them off.
metrics {
  listen = "127.0.0.1:9587"
}

# virtual_server "web" {
#   address   = "203.0.113.10:80"
#   scheduler = "wlc"
#   forward   = "nat"
#
#   check "http" {
#     path     = "/healthz"
#     interval = "2s"
#     timeout  = "1s"
#   }
#
#   real_server {
#     address = "10.0.1.11:80"
#   }
#   real_server {
#     address = "10.0.1.12:80"
#   }
# }
