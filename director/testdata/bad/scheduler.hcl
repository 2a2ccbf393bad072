virtual_server "a" {
  address         = "192.0.2.1:80"
  scheduler       = "wlcc" # error@21: Did you mean "wlc"?
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "b" {
  address         = "192.0.2.2:80"
  scheduler       = "wlc"
  scheduler_flags = ["sh-port", "sh-fallbak"] # error@22: sh-port is a flag of the sh scheduler | error@33: Unknown scheduler flag
  real_server {
    address = "10.0.0.1:80"
  }
}

virtual_server "c" {
  address         = "192.0.2.3:80"
  scheduler       = "sh"
  scheduler_flags = ["sh-port", "sh-port"] # error@33: Duplicate scheduler flag
  forward         = "dsr" # error@21: unknown forwarding method "dsr"
  real_server {
    address = "10.0.0.1:80"
  }
}
