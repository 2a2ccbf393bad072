virtual_server "c" {
  address = "192.0.2.1:80"

  check "htp" { # error@9: Did you mean "http"?
  }

  real_server {
    address = "10.0.0.1:80"
    check "http" {
      method     = "POST" # error@20: method must be one of "get" or "head"
      path       = "healthz" # error@20: path must be a URL path
      status     = ["200", "700", "299-200", "abc"] # error@28: status codes run from 100 to 599 | error@35: low to high | error@46: want a status code
      body_regex = "(unclosed" # error@20: Invalid regular expression
      body_md5   = "xyz" # error@20: body_md5 must be 32 hexadecimal digits
      tls_verify = true # error@7: tls_verify is a setting of https checks
      send       = "GET /" # error@7: it is a setting of tcp and udp checks, not of http checks
    }
  }
  real_server {
    address = "10.0.0.2:80"
    check "icmp" {
      port = 80 # error@7: it has no port
    }
    check "exec" {
      command = [] # error@17: needs a program
      address = "10.0.0.9" # error@7: Setting on an exec check
      env     = { LVSD_RS = "x", "1bad" = "y" } # error@17: "1bad" is not an environment variable name | error@17: lvsd sets the LVSD_ variables itself
    }
  }
  real_server {
    address = "10.0.0.3:80"
    check "dns" {
      name   = "example..com" # error@16: is not a domain name
      type   = "AXFR" # error@16: Unknown query type
    }
    check "dns" {
      name   = "example.com"
      type   = "MX"
      expect = ["192.0.2.1"] # error@16: only A and AAAA answers hold
    }
    check "dns" {
      name   = "example.com"
      type   = "AAAA"
      expect = ["192.0.2.1"] # error@17: cannot be in the answer to a type AAAA query
    }
  }
  real_server {
    address = "10.0.0.4:80"
    check "none" {} # error@11: check "none" declares the server always up
    check "tcp" {
      expect = "^220"
      send_hex = "zz" # error@18: send_hex must be hexadecimal
    }
  }
  real_server {
    address = "10.0.0.5:80"
    check "https" {
      method      = "HEAD" # error@21: HEAD has no body
      body_regex  = "ok"
      tls_ca_file = "/etc/ssl/ca.pem" # warning@7: tls_ca_file is only used
      tls_cert_file = "/etc/lvsd/client.pem" # error@7: tls_cert_file and tls_key_file go together
    }
    check "tcp" {
      send     = "PING"
      send_hex = "50494e47" # error@7: send and send_hex are mutually exclusive
    }
  }
}
