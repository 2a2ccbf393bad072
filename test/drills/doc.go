// Package drills holds lvsd's failure drills: TestKernel* tests that run
// the lab's architecture (test/scenario: two lvsd directors sharing a VIP
// by VRRP, three web servers, a client) and break it the ways production
// breaks: the master's lvsd killed, its link cut, a graceful stop and a
// restart, a split brain, a reload storm, a bad configuration, every real
// server down, and a failover with established connections, with and
// without the connection sync daemon. Each asserts that traffic through the
// VIP recovers within its bound and that nothing is lost. `make test` runs
// them in the kernel lab VM; see docs/lab.md.
package drills
