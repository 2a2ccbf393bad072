virtual_server "mark" {
  fwmark   = 1
  protocol = "tcp" # error@14: Protocol on a firewall-mark service
  forward  = "dr"
  real_server {
    address = "10.0.0.1:80" # error@15: Port on a firewall-mark real server
  }
  real_server {
    address = "10.0.0.2:443" # error@15: cannot send it to port 443
    forward = "tun"
  }
  real_server {
    address = "10.0.0.3:8080" # warning@15: sent to port 8080
    forward = "nat"
  }
  real_server {
    address = "10.0.0.4"
  }
}

virtual_server "both" {
  fwmark  = 2
  address = "192.0.2.1:80" # error@3: mutually exclusive
}

virtual_server "neither" { # error@1: Missing virtual address
  scheduler = "rr"
}

virtual_server "fam" {
  address = "192.0.2.1:80"
  family  = "inet" # error@3: Family on an address service
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "mark0" {
  fwmark = 0 # error@12: fwmark must be between 1 and 4294967295
  real_server {
    address = "10.0.0.1"
  }
}
