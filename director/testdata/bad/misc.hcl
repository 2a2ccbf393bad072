# Smaller mistakes of every kind, all in one file.
variable "9lives" { # error@10: is not a valid name
  default = 1
}

control {
  mode = "0666" # warning@10: lets every local user reload lvsd
}

virtual_server "web/1" { # error@16: virtual_server name "web/1"
  address = "192.0.2.1:80"
}

virtual_server "allports" {
  address = "192.0.2.2:0" # warning@13: not a virtual address of any vrrp_instance
  forward = "dr"
  persistence {
    timeout = "60s"
  }
  real_server {
    address = "10.0.0.1:80" # error@15: takes every port
  }
  real_server {
    name    = "has/slash" # error@15: Real server name "has/slash"
    address = "10.0.0.2"
  }
  real_server { # error@3: The argument "address" is required
    weight = 2
  }
  sorry_server { # error@3: The argument "address" is required
  }
}

virtual_server "empty" {
  addresses = [] # error@15: addresses is empty
}

virtual_server "checks" {
  address = "192.0.2.3:80" # warning@13: not a virtual address of any vrrp_instance
  check "none" { # error@9: contradicts the other checks
    interval = "1s" # error@5: A none check only declares the real server always up
  }
  check "exec" {
    command = ["/bin/check"]
    user    = "" # error@15: "" is not a user name
    port    = 80 # error@5: so port does not apply
  }
  check "exec" { # error@3: The argument "command" is required
  }
  check "dns" { # error@3: The argument "name" is required
  }
  real_server {
    address = "10.0.0.1:80"
  }
}

vrrp_instance "v" {
  interface         = "eth0/1" # error@23: is not an interface name
  vrid              = 3
  unicast_peers     = [] # error@23: unicast_peers is empty
  virtual_addresses = "192.0.2.1/24" # error@23: virtual_addresses must be a list
  gratuitous_arp {
    count = 2
  }
  gratuitous_arp { # error@3: Duplicate gratuitous_arp block
  }
}

vrrp_instance "w" {
  interface         = "eth1"
  vrid              = 4
  virtual_addresses = [] # error@23: virtual_addresses is empty
}
