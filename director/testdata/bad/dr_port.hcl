virtual_server "dr" {
  address = "192.0.2.1:80"
  forward = "dr"
  real_server {
    address = "10.0.0.1:8080" # error@15: Port differs from the virtual port
  }
  real_server {
    address = "10.0.0.2:80" # same port: fine
  }
  real_server {
    address = "10.0.0.3"
  }
  real_server {
    address = "10.0.0.4:8080" # NAT may change the port
    forward = "nat"
  }
}

virtual_server "tun" {
  addresses = ["192.0.2.2:80", "192.0.2.2:443"]
  forward   = "tun"
  real_server {
    # Matches :80 but not :443.
    address = "10.0.0.1:80" # error@15: not 80: write "10.0.0.1:443"
  }
  real_server {
    address = "10.0.0.2"
  }
}
