virtual_server "a" {
  address = "192.0.2.1:80"
  quorum  = 300 # warning@13: quorum 300 is above the sum of the real servers' weights (200)
  real_server {
    address = "10.0.0.1:80"
    weight  = 100
  }
  real_server {
    address = "10.0.0.2:80"
    weight  = 100
  }
}

virtual_server "b" {
  address    = "192.0.2.2:80"
  quorum     = 100
  hysteresis = 150 # warning@16: once down, virtual_server "b" never comes back up
  real_server {
    address = "10.0.0.1:80"
    weight  = 100
  }
  real_server {
    address = "10.0.0.2:80"
    weight  = 100
  }
}

virtual_server "c" { # warning@16: Every real server of virtual_server "c" has weight 0
  address = "192.0.2.3:80"
  real_server {
    address = "10.0.0.1:80"
    weight  = 0
  }
}

virtual_server "d" { # warning@16: Virtual server without real servers
  address = "192.0.2.4:80"
}

virtual_server "e" {
  address = "192.0.2.5:0" # error@13: Port 0 needs persistence
  real_server {
    address = "10.0.0.1"
  }
}

virtual_server "f" {
  address    = "192.0.2.6:53"
  one_packet = true # warning@16: One-packet scheduling applies to UDP only
  real_server {
    address = "10.0.0.1:53"
  }
  sorry_server {
    address = "10.0.0.1:53" # warning@15: Sorry server is a real server
  }
}
