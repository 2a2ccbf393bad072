// Package test holds the integration harnesses: network-namespace topologies
// and the kernel lab VM that runs the kernel tests against a real IPVS.
package test
