vrrp_instance "a" {
  interface         = "eth0"
  vrid              = 1
  virtual_addresses = ["192.0.2.1/24"]
}

vrrp_instance "b" {
  interface         = "eth1"
  vrid              = 2
  virtual_addresses = ["10.0.0.1/24"]
}

vrrp_sync_group "g1" {
  instances = ["a", "b", "c"] # error@26: No vrrp_instance "c" is declared
}

vrrp_sync_group "g2" {
  instances = ["a"] # error@16: vrrp_instance "a" is already in vrrp_sync_group "g1" | warning@15: A vrrp_sync_group with one instance changes nothing

  notify "master" {
    command = ["/usr/local/bin/notify"]
  }
  notify "mastr" { # error@10: Did you mean "master"?
    command = ["/usr/local/bin/notify"]
  }
}

vrrp_sync_group "g3" { # error@1: The argument "instances" is required
}

ipvs {
  sync_daemon {
    interface     = "eth0"
    vrrp_instance = "zz" # error@21: No vrrp_instance "zz" is declared
    role          = "master" # error@21: Conflicting sync daemon role
    group         = "192.0.2.1" # error@21: is not a multicast address
    sync_id       = 300 # error@21: sync_id must be between 0 and 255
  }
}
