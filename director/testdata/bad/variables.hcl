# vars: count=abc nope=1 tag=x
# error@-: A value was given for variable "nope", which the configuration does not declare
variable "vip" { # error@1: Variable "vip" has no default and no value was given: set one with -var vip=VALUE
  type = string
}

variable "count" { # error@10: The value given for variable "count" ("abc") is not a number
  type    = number
  default = 3
}

variable "weight" {
  type    = number
  default = "heavy" # error@13: The default of variable "weight" is not a number
}

variable "tag" {
  type = string
}

variable "tag" { # error@10: Variable "tag" is already declared
  default = "y"
}

locals {
  a = local.b # error@3: local.a depends on itself
  b = local.a # error@3: local.b depends on itself
  c = local.nothing # error@12: Unsupported attribute
}

locals {
  c = 1 # error@3: Local value "c" is already defined
}

virtual_server "v" {
  address = "${var.tag}:80" # error@13: "x:80" is not an address
  real_server {
    address = "10.0.0.1:80"
    weight  = upper("x") # error@15: a number is required
  }
}
