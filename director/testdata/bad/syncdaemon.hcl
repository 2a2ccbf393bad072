ipvs {
  resync_interval = "100ms" # error@21: resync_interval must be between 1s and 1h0m0s
  sync_daemon { # error@3: Set vrrp_instance
    interface = "eth0"
  }
  sync_daemon { # error@3: Duplicate sync_daemon block
    interface = "eth0"
    role      = "follow"
  }
  timeouts {
    tcp = "1.5s" # error@11: whole seconds
    udp = "300s"
  }
}

ipvs { # error@1: Duplicate ipvs block
}
