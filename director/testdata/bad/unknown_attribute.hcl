# Misspelt attribute and block names: each one reported, with a suggestion.
virtual_server "web" {
  adress = "192.0.2.1:80" # error@3: Unsupported argument
  address = "192.0.2.1:80"
  schedular = "rr" # error@3: Unsupported argument
  real_server {
    address = "10.0.0.1:80"
    wieght  = 5 # error@5: Unsupported argument
  }
  real_servers { # error@3: Unsupported block type
  }
}

virtul_server "x" { # error@1: Unsupported block type
}
