// Package director is the daemon core: the HCL configuration (schema,
// decoding, validation), and the Director that owns all mutable state in one
// event loop, turning check results, VRRP transitions and operator overrides
// into a desired ipvs.Table and VIP ownership. It is the only room that knows
// about all the others.
package director
