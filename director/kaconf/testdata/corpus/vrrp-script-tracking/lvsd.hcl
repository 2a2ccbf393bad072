# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:4 (router_id)
node_name = "haproxy-lb1"

# from keepalived.conf:9
vrrp_script "chk_haproxy" {
  command  = ["/usr/bin/killall", "-0", "haproxy"]
  interval = "2s"
  weight   = 2
}

# from keepalived.conf:15
vrrp_script "chk_api" {
  command = [
    "/usr/bin/curl",
    "-fs",
    "-o",
    "/dev/null",
    "--max-time",
    "1",
    "http://127.0.0.1:8404/health check",
  ]
  interval = "3s"
  timeout  = "2s"
  rise     = 2
  fall     = 2
}

# from keepalived.conf:23
vrrp_script "chk_port" {
  command  = ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/443"]
  interval = "5s"
}

# from keepalived.conf:28
vrrp_instance "VI_1" {
  interface         = "ens192"
  vrid              = 33
  priority          = 101
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  auth_pass         = "haproxy-"
  virtual_addresses = ["10.20.0.100/24"]

  track_interface "ens224" {
    weight = -10
  }

  track_script "chk_haproxy" {}

  track_script "chk_api" {
    weight = -30
  }

  track_script "chk_port" {}

  notify "master" {
    command = ["/etc/keepalived/notify.sh", "MASTER"]
  }

  notify "backup" {
    command = ["/etc/keepalived/notify.sh", "BACKUP"]
  }

  notify "fault" {
    command = ["/etc/keepalived/notify.sh", "FAULT"]
  }

  notify "stop" {
    command = ["/etc/keepalived/notify.sh", "STOP"]
  }
}
