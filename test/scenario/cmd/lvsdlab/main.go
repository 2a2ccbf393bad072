// Command lvsdlab is `make lab`: it builds the architecture lvsd is for
// (two directors sharing a VIP by VRRP, three web servers, a client) out of
// network namespaces on a kernel with IPVS, and walks through a day of
// failures while a person watches: a real server dying and returning, the
// master director dying and returning, established connections across the
// failover with and without connection sync. It exits non-zero when
// anything did not behave as expected. Run it through the kernel lab:
//
//	make lab MODE=dr
//	go run ./test/lab/cmd/kernellab run -file bin/lvsd:lvsd -- ./test/scenario/cmd/lvsdlab -mode dr
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lvsd/lvsd/test/scenario"
)

func main() {
	var opt scenario.Options
	var wo scenario.WalkOptions
	mode := flag.String("mode", "nat", "forwarding method: nat, dr or tun")
	flag.StringVar(&opt.Lvsd, "lvsd", "", "the lvsd binary (default: $LVSD_LAB_FILES/lvsd, else lvsd in PATH)")
	flag.DurationVar(&opt.Advert, "advert", 100*time.Millisecond, "VRRP advert interval")
	flag.DurationVar(&opt.CheckInterval, "check-interval", 500*time.Millisecond, "real server check interval")
	flag.IntVar(&wo.Conns, "conns", 50, "long-lived connections across the failover")
	flag.BoolVar(&opt.NoSync, "no-sync", false, "run without the connection sync daemon")
	flag.BoolVar(&opt.NoPreempt, "no-preempt", false, "a returning lb1 stays backup")
	flag.BoolVar(&opt.StaticVIP, "static-vip", false, "no VRRP: put the VIP on lb1 by hand and skip the director failover (the IPVS side alone)")
	flag.StringVar(&opt.Dir, "dir", "", "keep the configuration and the directors' logs in this directory")
	flag.BoolVar(&opt.Quiet, "quiet", false, "do not show the directors' log lines")
	flag.Parse()
	m, err := scenario.ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lvsdlab:", err)
		os.Exit(2)
	}
	opt.Mode = m
	opt.Out = os.Stdout
	if opt.Dir != "" {
		opt.Keep = true
	}
	if opt.Lvsd == "" {
		opt.Lvsd = findLvsd()
	}
	if opt.Lvsd == "" {
		fmt.Fprintln(os.Stderr, "lvsdlab: no lvsd binary: give -lvsd, or run through `make lab`")
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "lvsdlab: needs root (network namespaces, IPVS): run it through `make lab`")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	sum := scenario.Walkthrough(ctx, opt, wo)
	sum.Write(os.Stdout)
	fmt.Printf("(%.0fs)\n", time.Since(start).Seconds())
	if !sum.OK() {
		os.Exit(1)
	}
}

func findLvsd() string {
	if d := os.Getenv("LVSD_LAB_FILES"); d != "" {
		if p := filepath.Join(d, "lvsd"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("lvsd"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
