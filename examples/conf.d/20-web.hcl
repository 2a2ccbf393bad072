virtual_server "web" {
  address = "${var.vip}:80"
  forward = "dr"

  check "http" {
    path = "/healthz"
  }

  real_server {
    address = "192.0.2.21"
  }
  real_server {
    address = "192.0.2.22"
  }
}
