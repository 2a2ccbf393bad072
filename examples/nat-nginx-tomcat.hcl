# NAT in front of an nginx tier and a Tomcat tier.
#
#   clients --- 203.0.113.10 (VIP, on this director's eth0)
#                    |  lvsd / IPVS, forwarding by NAT
#               10.0.1.1 (eth1: the real servers' default gateway)
#                    |
#       nginx 10.0.1.11-13 (:80, :443)    Tomcat 10.0.2.21-22 (:8080)
#
# NAT rewrites the destination address (and port) of each connection, so
# the real servers' replies must come back through this director: make it
# their default gateway, and enable forwarding here:
#   sysctl -w net.ipv4.ip_forward=1
#
# Check it with:  lvsd validate -c examples/nat-nginx-tomcat.hcl

node_name = "lb1"

logging {
  level  = "info"
  format = "text" # "json" for a log collector
}

# Prometheus metrics on loopback; without this block metrics are off.
metrics {
  listen = "127.0.0.1:9587"
}

# The nginx tier, plain HTTP.
virtual_server "www" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "wlc" # weighted least-connection: the kernel's default
  forward   = "nat"

  # The default check of every real server below that has none of its own.
  # A server is taken out after 3 failures in a row and put back after 2
  # successes.
  check "http" {
    path     = "/healthz"
    interval = "2s"
    timeout  = "1s"
    rise     = 2
    fall     = 3
  }

  real_server {
    address = "10.0.1.11:80"
    weight  = 100
  }
  real_server {
    address = "10.0.1.12:80"
    weight  = 100
  }
  real_server {
    # A bigger machine takes twice the share of new connections.
    address = "10.0.1.13:80"
    weight  = 200
  }

  # When no real server is up, new connections go here (a static
  # "we'll be right back" page) instead of being refused.
  sorry_server {
    address = "10.0.1.99:8080"
  }
}

# The same nginx servers for HTTPS. TLS ends on nginx, so the director
# only sees TCP: a TCP connect check is enough here, and the HTTP check of
# "www" already watches the application.
virtual_server "www-tls" {
  address   = "203.0.113.10:443"
  scheduler = "wlc"
  forward   = "nat"

  check "tcp" {
    interval = "2s"
    timeout  = "1s"
  }

  real_server {
    address = "10.0.1.11:443"
    weight  = 100
  }
  real_server {
    address = "10.0.1.12:443"
    weight  = 100
  }
  real_server {
    address = "10.0.1.13:443"
    weight  = 200
  }
}

# The Tomcat tier: the VIP's port 8080 goes to the application servers.
virtual_server "tomcat" {
  address   = "203.0.113.10:8080"
  scheduler = "lc"
  forward   = "nat"

  # Tomcat keeps sessions in memory: send a client back to the same server
  # for 10 minutes after its last connection.
  persistence {
    timeout = "600s"
  }

  # A removed or failed server keeps its established connections for up
  # to 5 minutes (weight 0, no new ones) before it is deleted.
  drain_timeout = "5m"

  # The service counts as down when fewer than 2 servers' worth of weight
  # is up; the hooks page someone.
  quorum = 2

  check "http" {
    path       = "/app/status"
    host       = "app.example.com"
    status     = ["200"]
    body_regex = "\"status\":\\s*\"UP\""
    interval   = "5s"
    timeout    = "2s"
  }

  real_server {
    name    = "tomcat1" # the name used in logs, metrics and `lvsd drain tomcat/tomcat1`
    address = "10.0.2.21:8080"
  }
  real_server {
    name    = "tomcat2"
    address = "10.0.2.22:8080"
    # Keep this one in the table at weight 0 when it fails, instead of
    # draining and removing it (keepalived's inhibit_on_failure).
    inhibit_on_failure = true
  }

  notify "quorum_down" {
    command = ["/usr/local/bin/page-oncall", "tomcat tier below quorum"]
    timeout = "10s"
  }
  notify "quorum_up" {
    command = ["/usr/local/bin/page-oncall", "--resolve", "tomcat tier below quorum"]
  }
}
