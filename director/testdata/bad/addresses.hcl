virtual_server "a" {
  address = "192.0.2.300:80" # error@13: is not an address
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "b" {
  address = "192.0.2.1" # error@13: has no port
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "c" {
  # Without brackets the ":80" is part of the IPv6 address.
  address = "2001:db8::1:80" # error@13: Missing port
}

virtual_server "d" {
  address = "[fe80::1%eth0]:80" # error@13: has a zone
}

virtual_server "e" {
  address = "224.0.0.18:80" # error@13: multicast
}

virtual_server "f" {
  address = "192.0.2.1:99999" # error@13: has an invalid port
}

virtual_server "g" {
  address = "192.0.2.7:80"
  real_server {
    address = "10.0.0.256" # error@15: Invalid real server address
    weight  = 100000 # error@15: weight must be between 0 and 65535
  }
  real_server {
    address = "0.0.0.0:80" # error@15: unspecified
  }
  real_server {
    address = "10.0.0.0/24" # error@15: has a prefix length
  }
  real_server {
    address = null # error@15: address is required and cannot be null
  }
}
