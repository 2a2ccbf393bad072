# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:15 (router_id)
node_name = "LVS_LB1"

vrrp {
  # from keepalived's vrrp_garp_* in global_defs
  gratuitous_arp {
    second_burst_delay = "10s"
    refresh_interval   = "60s"
  }
}

ipvs {
  # from keepalived.conf:18
  sync_daemon {
    interface     = "eth1"
    sync_id       = 51
    vrrp_instance = "VI_OUTSIDE"
  }
}

# from keepalived.conf:21
vrrp_sync_group "VG_DIRECTOR" {
  instances = ["VI_OUTSIDE", "VI_INSIDE"]

  notify "master" {
    command = ["/etc/keepalived/notify.sh", "master"]
  }

  notify "backup" {
    command = ["/etc/keepalived/notify.sh", "backup"]
  }

  notify "fault" {
    command = ["/etc/keepalived/notify.sh", "fault"]
  }
}

# from keepalived.conf:31
vrrp_instance "VI_OUTSIDE" {
  interface         = "eth0"
  vrid              = 51
  priority          = 150
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  auth_pass         = "s3cr3t"
  virtual_addresses = ["203.0.113.10/24"]
}

# from keepalived.conf:46
vrrp_instance "VI_INSIDE" {
  interface         = "eth1"
  vrid              = 52
  priority          = 150
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  auth_pass         = "s3cr3t"
  virtual_addresses = ["10.0.1.1/24"]
}

# from keepalived.conf:62
virtual_server "203.0.113.10_80" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "nat"

  # from keepalived.conf:72 (HTTP_GET)
  # the same on all 3 real servers
  check "http" {
    path           = "/healthz"
    status         = ["200"]
    interval       = "6s"
    timeout        = "3s"
    rise           = 1    # keepalived: up after one success
    fall           = 4    # keepalived: retry 3
    retry_interval = "3s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:68
  sorry_server {
    address = "10.0.1.99:8080"
  }

  # from keepalived.conf:70
  real_server {
    address = "10.0.1.11:80"
    weight  = 100
  }

  # from keepalived.conf:82
  real_server {
    address = "10.0.1.12:80"
    weight  = 100
  }

  # from keepalived.conf:94
  real_server {
    address = "10.0.1.13:80"
    weight  = 200
  }
}

# from keepalived.conf:109
virtual_server "203.0.113.10_443" {
  address   = "203.0.113.10:443"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "nat"

  # from keepalived.conf:117 (TCP_CHECK)
  # the same on all 3 real servers
  check "tcp" {
    interval       = "6s"
    timeout        = "3s"
    rise           = 1    # keepalived: up after one success
    fall           = 2    # keepalived: retry 1
    retry_interval = "1s" # keepalived: delay_before_retry
  }

  # from keepalived.conf:115
  real_server {
    address = "10.0.1.11:443"
    weight  = 100
  }

  # from keepalived.conf:121
  real_server {
    address = "10.0.1.12:443"
    weight  = 100
  }

  # from keepalived.conf:127
  real_server {
    address = "10.0.1.13:443"
    weight  = 200
  }
}

# from keepalived.conf:136
virtual_server "203.0.113.10_8080" {
  address   = "203.0.113.10:8080"
  protocol  = "tcp"
  scheduler = "lc"
  forward   = "nat"
  quorum    = 2

  persistence {
    timeout = "600s"
  }

  # from keepalived.conf:149 (HTTP_GET)
  # the same on both real servers
  check "http" {
    path           = "/app/status"
    host           = "app.example.com"
    status         = ["200"]
    interval       = "5s"
    timeout        = "2s"
    rise           = 1    # keepalived: up after one success
    fall           = 3    # keepalived: retry 2
    retry_interval = "2s" # keepalived: delay_before_retry
  }

  notify "quorum_up" {
    command = ["/usr/local/bin/page-oncall", "--resolve", "tomcat tier below quorum"]
  }

  notify "quorum_down" {
    command = ["/usr/local/bin/page-oncall", "tomcat tier below quorum"]
  }

  # from keepalived.conf:146
  real_server {
    address            = "10.0.2.21:8080"
    weight             = 1
    inhibit_on_failure = true
  }

  # from keepalived.conf:160
  real_server {
    address            = "10.0.2.22:8080"
    weight             = 1
    inhibit_on_failure = true
  }
}
