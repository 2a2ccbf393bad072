virtual_server "n" {
  address = "192.0.2.1:80"

  notify "quorum_down" {
    command = ["/usr/local/bin/page"]
    timeout = "1ms" # error@15: timeout must be between 100ms and 1h0m0s
  }
  notify "quorum_down" { # error@10: Duplicate notify block
    command = ["/usr/local/bin/page"]
  }
  notify "down" { # error@10: here the events are "quorum_up" or "quorum_down"
    command = ["/usr/local/bin/page"]
  }

  real_server {
    address = "10.0.0.1:80"
    notify "up" {
      command = ["/usr/local/bin/notify up"] # warning@17: write each argument as its own list element
    }
    notify "down" {
      command = [""] # error@17: command needs a program
    }
    notify "master" { # error@12: here the events are "up" or "down"
      command = ["/bin/true"]
    }
  }
  real_server {
    address = "10.0.0.2:80"
    notify "up" { # error@5: The argument "command" is required
    }
  }
}

vrrp_script "chk" { # warning@13: No vrrp_instance tracks vrrp_script "chk"
  command = ["/usr/bin/pgrep", "nginx"]
  weight  = 300 # error@13: weight must be between -253 and 253
  user    = "root:root" # error@13: is not a user name
}
