// Command lvsd is the LVS director manager: it programs the kernel's IPVS
// table from an HCL file, health-checks real servers, and moves the director
// role between nodes with VRRP. This file only parses the command line; the
// work is in the director package.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		if !errors.Is(err, errSilent) {
			fmt.Fprintln(os.Stderr, "lvsd:", err)
		}
		os.Exit(exitCode(err))
	}
}
