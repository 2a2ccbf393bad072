# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:5
vrrp_script "chk_gw" {
  command  = ["/bin/true", "check-gateway"]
  interval = "2s"
  weight   = -20
}

# from keepalived.conf:11
vrrp_script "chk_local" {
  command  = ["/bin/true", "check-local"]
  interval = "2s"
}

# from keepalived.conf:16
vrrp_sync_group "VG" {
  instances = ["VI_OUT", "VI_IN"]
}

# from keepalived.conf:26
vrrp_instance "VI_OUT" {
  interface         = "eth0"
  vrid              = 41
  priority          = 150
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["203.0.113.41/24"]

  track_interface "lo" {}

  track_script "chk_local" {}
}

# from keepalived.conf:41
vrrp_instance "VI_IN" {
  interface         = "eth1"
  vrid              = 42
  priority          = 150
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["10.0.42.1/24"]

  track_script "chk_local" {}
}
