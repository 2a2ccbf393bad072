virtual_server "smtp" {
  address = "${var.vip}:25"
  forward = "dr"

  # SMTP servers greet first: wait for the "220" banner.
  check "tcp" {
    expect = "^220 "
  }

  real_server {
    address = "192.0.2.31"
  }
  real_server {
    address = "192.0.2.32"
  }
}
