virtual_server "a" {
  address = "192.0.2.1:80"
  persistence {
    timeout = "300s"
    netmask = "255.0.255.0" # error@15: is not a contiguous netmask
  }
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "b" {
  address = "[2001:db8::1]:80"
  persistence {
    timeout = "300s"
    netmask = "255.255.255.0" # error@15: give its netmask as a prefix length
  }
  real_server {
    address = "[2001:db8::10]:80"
  }
}

virtual_server "c" {
  address = "192.0.2.3:80"
  persistence {
    timeout = "300s"
    netmask = 33 # error@15: prefix length from 1 to 32, not 33
  }
  real_server {
    address = "10.0.0.1:80"
  }
}
