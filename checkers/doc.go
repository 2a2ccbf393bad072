// Package checkers holds the health checks (icmp, tcp, http/https, exec, dns,
// udp) behind one small interface, and the Runner that schedules them and
// turns raw results into up/down verdicts with rise and fall counts. It knows
// nothing about IPVS, VRRP or configuration files: it reports verdicts.
//
// A check is described by a Definition: the real server it is for (Target),
// the settings every kind shares (Settings: interval, timeout, rise, fall,
// warmup, start-down, source binding, target override) and a typed spec of
// one kind (ICMPSpec, TCPSpec, HTTPSpec, ExecSpec, DNSSpec, UDPSpec). Build
// turns a Definition into a Check; the Runner does that itself.
//
// The Runner takes the whole desired set of checks at once (Update), each
// registered by an owner (for the director: one real server of one virtual
// server). Checks with the same definition and target run once and feed
// every owner. An unchanged definition keeps its state across Update calls;
// a changed one restarts; a removed one stops. Each owner's verdict (all its
// checks up, or not) is reported on every change through Options.Notify.
//
// Sub-package hook runs external commands with a time limit and kills their
// whole process group; exec checks use it, and so can up/down hooks.
package checkers
