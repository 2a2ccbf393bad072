node_name = "lb 1" # error@13: node_name "lb 1"

logging {
  level  = "verbose" # error@12: level must be one of "trace", "debug", "info", "warn" or "error", not "verbose"
  format = "jsn" # error@12: Did you mean "json"?
}

control {
  socket = "lvsd.sock" # error@12: socket must be an absolute path
  mode   = "0400" # error@12: does not let lvsd's own user read and write
  listen = "192.0.2.1:9588" # warning@12: has no authentication
}

metrics {
  listen = "localhost:9587" # error@12: listen must be address:port
  path   = "metrics" # error@12: path must be a URL path
}

vrrp {
  state_file = "state" # error@16: state_file must be an absolute path
  gratuitous_arp {
    count            = 0 # error@24: count must be between 1 and 100
    refresh_interval = "10ms" # error@24: refresh_interval must be 0s (off) or at least 1s
  }
}

logging { # error@1: Duplicate logging block
}
