// Package checkers holds the health checks (icmp, tcp, http/https, exec, dns,
// udp) behind one small interface, and the Runner that schedules them and
// turns raw results into up/down verdicts with rise and fall counts. It knows
// nothing about IPVS, VRRP or configuration files: it reports verdicts.
package checkers
