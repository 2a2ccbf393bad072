vrrp_instance "vip" {
  interface         = "eth0"
  vrid              = 10
  priority          = 150
  virtual_addresses = ["${var.vip}/24"]
}
