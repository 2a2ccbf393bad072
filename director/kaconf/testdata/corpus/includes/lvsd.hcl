# Imported from keepalived.conf by `lvsd import`.
# Included files: conf.d/00-global.conf, conf.d/10-vrrp.conf, vips/outside.conf, services/web.conf, services/web-servers.d/web1.conf, services/web-servers.d/web2.conf, services/mail.conf.
# Review every warning the import printed, then check the result with
# `lvsd validate -c FILE` and `lvsd plan -c FILE` before running it.

# from conf.d/00-global.conf:2 (router_id)
node_name = "lb-inc"

vrrp {
  # from keepalived's vrrp_garp_* in global_defs
  gratuitous_arp {
    count    = 3
    interval = "1ms"
  }
}

# from conf.d/10-vrrp.conf:1
vrrp_instance "VI_INC" {
  interface         = "eth0"
  vrid              = 70
  priority          = 90
  version           = 2 # keepalived's default (lvsd's is 3): the adverts stay v2
  advert_interval   = "1s"
  virtual_addresses = ["198.51.100.70/24", "198.51.100.71/24"]
}

# from services/web.conf:1
virtual_server "198.51.100.70_80" {
  address   = "198.51.100.70:80"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "nat"

  # from services/web-servers.d/web1.conf:3 (TCP_CHECK)
  # the same on both real servers
  check "tcp" {
    interval = "4s"
    timeout  = "2s"
    rise     = 1 # keepalived: up after one success
    fall     = 2 # keepalived: retry 1
  }

  # from services/web-servers.d/web1.conf:1
  real_server {
    address = "10.0.5.51:80"
    weight  = 1
  }

  # from services/web-servers.d/web2.conf:1
  real_server {
    address = "10.0.5.52:80"
    weight  = 1
  }
}

# from services/mail.conf:1
virtual_server "198.51.100.71_25" {
  address    = "198.51.100.71:25"
  protocol   = "tcp"
  scheduler  = "rr"
  forward    = "nat"
  quorum     = 1 # keepalived quorum 2, hysteresis 1: down below 1
  hysteresis = 2 # up again at 3

  # from services/mail.conf:14 (SMTP_CHECK)
  # the same on all 3 real servers
  check "tcp" {
    expect         = "^220"
    interval       = "15s"
    timeout        = "10s"
    rise           = 1    # keepalived: up after one success
    fall           = 2    # keepalived: retry 1
    retry_interval = "1s" # keepalived: delay_before_retry
    start_down     = true # keepalived: alpha
  }

  # from services/mail.conf:10
  sorry_server {
    address = "10.0.5.99:25"
    inhibit = true
  }

  # from services/mail.conf:13
  real_server {
    address = "10.0.5.61:25"
  }

  # from services/mail.conf:19
  real_server {
    address = "10.0.5.62:25"
  }

  # from services/mail.conf:25
  real_server {
    address = "10.0.5.63:25"
  }
}
