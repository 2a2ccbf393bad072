virtual_server "web" {
  address    = "192.0.2.1:80"
  one_packet = "yes" # error@16: Incorrect attribute value type
  quorum     = "two" # error@16: Incorrect attribute value type
  real_server {
    address = "10.0.0.1:80"
    weight  = "heavy" # error@15: Incorrect attribute value type
  }
  real_server {
    address = ["10.0.0.2:80"] # error@15: Incorrect attribute value type
  }
  real_server {
    address = "10.0.0.3:80"
    weight  = 1.5 # error@15: weight must be a whole number
  }
}
