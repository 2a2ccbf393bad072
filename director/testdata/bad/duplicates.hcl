# The same kernel service, virtual server name or real server, twice.
virtual_server "web" {
  addresses = ["192.0.2.1:80", "192.0.2.1:443"]
  real_server {
    address = "10.0.0.1:80"
  }
  real_server {
    address = "10.0.0.1:80" # error@15: Duplicate real server
    name    = "other"
  }
  real_server {
    address = "10.0.0.2:8080"
    name    = "app"
  }
  real_server {
    address = "10.0.0.3:8080"
    name    = "app" # error@15: Duplicate real server name
  }
}

virtual_server "web2" {
  addresses = ["192.0.2.2:80", "192.0.2.1:443"] # error@32: already declared by virtual_server "web"
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "web" { # error@16: Duplicate virtual server name
  address = "192.0.2.9:80"
}

virtual_server "udp" {
  address  = "192.0.2.1:80"
  protocol = "udp" # a different service from tcp 192.0.2.1:80: fine
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "m1" {
  fwmark = 7
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "m2" {
  fwmark = 7 # error@12: fwm 7 is already declared
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "self" {
  addresses = ["192.0.2.5:80", "192.0.2.5:80"] # error@32: Duplicate virtual address
  real_server {
    address = "192.0.2.5:80" # error@15: Real server is the virtual address
  }
  real_server {
    address = "10.0.0.1:80"
  }
  real_server {
    # Same destination as the one above: no port means the virtual port.
    address = "10.0.0.1" # error@15: Duplicate real server
  }
}
