# Imported from keepalived.conf by `lvsd import`.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from keepalived.conf:2
vrrp_instance "VI_CRLF" {
  interface         = "eth0"
  vrid              = 9
  priority          = 90
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["192.0.2.9/24"]
}
