virtual_server "web" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.1:80" weight = 2 # error@29: Missing newline after argument
  }
}
