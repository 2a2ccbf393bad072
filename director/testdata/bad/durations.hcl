virtual_server "d" {
  address       = "192.0.2.1:80"
  drain_timeout = "2d" # error@19: is not a duration
  persistence {
    timeout = "1.5s" # error@15: timeout must be whole seconds
  }
  check "tcp" {
    interval = "5" # error@16: has no unit
    timeout  = "fast" # error@16: "fast" is not a duration
    warmup   = "-1s" # error@16: is negative
  }
  real_server {
    address = "10.0.0.1:80"
    check "tcp" {
      interval = "1s"
      timeout  = "3s" # warning@18: Timeout longer than the interval
    }
  }
  real_server {
    address = "10.0.0.2:80"
    check "http" {
      interval = "5ms" # error@18: interval must be between 10ms and 1h0m0s
      fall     = 0 # error@18: fall must be between 1 and 1000
      retry_interval = "1ms" # error@24: retry_interval must be between 10ms and 1h0m0s
    }
  }
}

virtual_server "p" {
  address = "192.0.2.2:80"
  persistence {
    timeout = "60s"
  }
  persistence { # error@3: Duplicate persistence block
    timeout = "60d"
  }
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "q" {
  address = "192.0.2.3:80"
  persistence { # error@3: Missing required argument
  }
  real_server {
    address = "10.0.0.1:80"
  }
}
