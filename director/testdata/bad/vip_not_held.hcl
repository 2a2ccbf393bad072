vrrp_instance "vi" {
  interface         = "eth0"
  vrid              = 1
  virtual_addresses = ["192.0.2.1/24"]
}

virtual_server "held" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "forgotten" {
  addresses = ["192.0.2.1:443", "192.0.2.2:443"] # warning@33: 192.0.2.2 is not a virtual address of any vrrp_instance
  real_server {
    address = "10.0.0.1:443"
  }
}

virtual_server "marked" {
  fwmark = 5 # a mark names no address: nothing to warn about
  real_server {
    address = "10.0.0.1"
  }
}
