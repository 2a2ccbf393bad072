virtual_server "w" {
  address = "192.0.2.1:80"
  real_server {
    address = "10.0.0.1:80"
    weight  = 70000 # error@15: weight must be between 0 and 65535, not 70000
  }
  real_server {
    address = "10.0.0.2:80"
    weight  = -1 # error@15: weight must be between 0 and 65535, not -1
  }
  real_server {
    address         = "10.0.0.3:80"
    upper_threshold = 100
    lower_threshold = 200 # error@23: lower_threshold 200 is above upper_threshold 100
  }
  real_server {
    address         = "10.0.0.4:80"
    lower_threshold = 10 # error@23: Lower threshold without an upper one
  }
  real_server {
    address         = "10.0.0.5:80"
    upper_threshold = -5 # error@23: Value out of range
  }
}
