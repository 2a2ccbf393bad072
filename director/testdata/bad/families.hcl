virtual_server "mixed" {
  addresses = ["192.0.2.1:80", "[2001:db8::1]:80"] # error@32: Mixed address families
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "v4" {
  address = "192.0.2.2:80"
  real_server {
    address = "[2001:db8::10]:80" # error@15: is IPv6 but virtual_server "v4" is IPv4
  }
  sorry_server {
    address = "2001:db8::99" # error@15: Mixed address families
  }
}

virtual_server "mark6" {
  fwmark = 3
  family = "inet6"
  real_server {
    address = "10.0.0.1" # error@15: Mixed address families
  }
}

virtual_server "mark-inferred" {
  fwmark = 4 # family from the first real server: IPv6
  real_server {
    address = "2001:db8::10"
  }
  real_server {
    address = "10.0.0.2" # error@15: is IPv4 but virtual_server "mark-inferred" is IPv6
  }
}
