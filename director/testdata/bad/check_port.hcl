virtual_server "mark" {
  fwmark = 1
  forward = "dr"
  check "tcp" {
    interval = "2s"
  }
  real_server { # error@3: Real server "10.0.0.1" has no port (its virtual server is a firewall mark or port 0), so its tcp check (the virtual server's check at
    address = "10.0.0.1"
  }
  real_server {
    address = "10.0.0.2"
    check "http" { # error@5: so its http check must say which port to probe
    }
    check "icmp" {}
  }
}

virtual_server "multi" {
  addresses = ["192.0.2.1:80", "192.0.2.1:443"]
  forward   = "dr"
  real_server {
    address = "10.0.0.1"
    check "tcp" { # error@5: Real server "10.0.0.1" serves several ports (80, 443)
    }
  }
  real_server {
    address = "10.0.0.2"
    check "tcp" {
      port = 443
    }
    check "tcp" {
      source_address = "2001:db8::1" # error@24: are not of the same family
      address        = "10.0.0.9"
      port           = 80
    }
  }
}
