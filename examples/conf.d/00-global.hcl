# A configuration split over a directory: `lvsd run -c /etc/lvsd/conf.d/`
# reads every *.hcl file in it, in name order, as one configuration.
# Variables and locals declared in one file are visible in all of them.
#
# Check it with:  lvsd validate -c examples/conf.d/

variable "vip" {
  type    = string
  default = "192.0.2.10"
}

logging {
  level = "info"
}

control {
  socket = "/run/lvsd/lvsd.sock"
}
