vrrp_instance "a" {
  interface         = "eth0"
  vrid              = 51
  virtual_addresses = ["192.0.2.100/24"]
}

vrrp_instance "b" {
  interface         = "eth0"
  vrid              = 51 # error@23: vrid 51 on eth0 (IPv4) is already used by vrrp_instance "a"
  virtual_addresses = ["192.0.2.101/24", "192.0.2.100/24"] # error@42: Virtual address in two instances
}

vrrp_instance "c" {
  interface         = "eth1"
  vrid              = 51 # another interface: fine
  priority          = 0 # error@23: priority must be between 1 and 255
  version           = 2
  advert_interval   = "100ms" # error@23: VRRPv2 carries the interval in whole seconds
  virtual_addresses = ["192.0.2.102/24", "2001:db8::1/64"] # error@42: a VRRP instance carries one family
  auth_pass         = "much-too-long" # error@23: The VRRPv2 password is 1 to 8 bytes
}

vrrp_instance "d" {
  interface         = "eth2"
  vrid              = 256 # error@23: vrid must be between 1 and 255
  advert_interval   = "15ms" # error@23: a multiple of 10ms
  auth_pass         = "secret" # error@23: VRRPv3 has no authentication
  virtual_addresses = ["192.0.2.103/24"]
  unicast_source    = "192.0.2.11"
  unicast_peers     = ["192.0.2.12", "192.0.2.11", "192.0.2.12", "2001:db8::2"] # error@38: is this node's unicast_source | error@52: listed twice | error@66: Mixed address families
}

vrrp_instance "e" {
  interface         = "eth3"
  vrid              = 1
  priority          = 255
  preempt           = false # warning@23: Address owner always preempts
  preempt_delay     = "5s" # warning@23: preempt_delay has no effect
  unicast_source    = "192.0.2.11" # error@3: unicast_source without peers
  virtual_addresses = ["192.0.2.104/24", "192.0.2.0/24", "224.0.0.18"] # error@42: is the network address | error@58: cannot be a virtual address
  version           = 2

  track_script "nope" {} # error@16: No vrrp_script "nope" is declared
  track_virtual_server "web" { # error@24: No virtual_server "web" is declared
    weight = -300 # error@14: weight must be between -253 and 253
  }
  track_interface "eth1" {}
  track_interface "eth1" {} # error@19: Duplicate track_interface
}

vrrp_instance "f" { # error@1: The argument "interface" is required | error@1: The argument "vrid" is required | error@1: The argument "virtual_addresses" is required
}

vrrp_instance "g" {
  interface         = "eth4"
  vrid              = 7
  version           = 2
  virtual_addresses = ["2001:db8::7/64"] # error@23: VRRPv2 is IPv4 only
}

vrrp_instance "h" {
  interface = "eth5"
  vrid      = 8
  virtual_addresses = [
    { address = "192.0.2.110/24", interface = "eth6" },
    { address = "192.0.2.111/24", device = "eth6" }, # error@5: Unknown key "device": a virtual address object has address and interface.
    42, # error@5: Each virtual address is a string
    "192.0.2.112/24",
  ]
}

vrrp_instance "bad name!" { # error@15: vrrp_instance name "bad name!"
  interface         = "eth7"
  vrid              = 9
  virtual_addresses = ["192.0.2.120/24"]
}

vrrp_instance "excluded" {
  interface                  = "eth4"
  vrid                       = 60
  version                    = 2
  virtual_addresses          = ["192.0.2.120/24"]
  virtual_addresses_excluded = ["2001:db8::120/64", "192.0.2.120", "2001:db8::120", 7] # error@53: is in virtual_addresses too | error@68: is listed twice | error@85: Invalid virtual address
}

vrrp_instance "excluded-only" { # error@1: "virtual_addresses" is required
  interface                  = "eth5"
  vrid                       = 61
  virtual_addresses_excluded = ["192.0.2.121"]
}

vrrp_instance "groups" {
  interface         = "eth6"
  vrid              = 62
  virtual_addresses = ["192.0.2.122"]
  multicast_group   = "192.0.2.1" # error@23: is not a multicast address
}

vrrp_instance "group6" {
  interface         = "eth6"
  vrid              = 63
  virtual_addresses = ["192.0.2.123"]
  multicast_group   = "ff02::88" # error@23: Mixed address families
}

vrrp_instance "group-unicast" {
  interface         = "eth6"
  vrid              = 64
  virtual_addresses = ["192.0.2.124"]
  unicast_peers     = ["192.0.2.12"]
  multicast_group   = "224.0.0.88" # error@23: the group is not used
}

vrrp_instance "shared-vrid-1" {
  interface         = "eth7"
  vrid              = 70
  virtual_addresses = ["192.0.2.130"]
  unicast_peers     = ["192.0.2.12", "192.0.2.13"]
}

vrrp_instance "shared-vrid-2" { # another peer: may share vrid 70
  interface         = "eth7"
  vrid              = 70
  virtual_addresses = ["192.0.2.131"]
  unicast_peers     = ["192.0.2.14"]
}

vrrp_instance "shared-vrid-3" {
  interface         = "eth7"
  vrid              = 70 # error@23: unicast instances may share one when they have no peer in common
  virtual_addresses = ["192.0.2.132"]
  unicast_peers     = ["192.0.2.13"]
}
