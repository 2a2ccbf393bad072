package lab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lvsd/lvsd/test/lab"
)

// A benchmark program built for the guest, run with an argument and a file,
// then ipvsadm in the same boot. (Not run by go test: it boots a VM.)
func ExampleRun() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "bench-")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bench-ipvs")
	if err := lab.BuildProgram(ctx, ".", "./test/bench/ipvs", bin, ""); err != nil {
		fmt.Println(err)
		return
	}
	res, err := lab.Run(ctx, lab.Spec{
		Steps: []lab.Step{
			{Program: bin, Args: []string{"-services", "10000", "-table", "/lab/files/table.txt"}},
			{Args: []string{"ipvsadm", "-Ln", "--stats"}},
		},
		Files:   []lab.File{{Src: "testdata/table.txt", Dst: "table.txt"}},
		Timeout: 30 * time.Minute,
		Output:  os.Stdout, // the guest's console, live
	})
	if err != nil { // no kernel, no QEMU, or no result line (hang, panic, timeout)
		fmt.Println(err)
		os.Exit(125)
	}
	os.Exit(res.ExitCode())
}

// The kernel tests of two packages in one boot.
func ExampleRunTests() {
	rep, err := lab.RunTests(context.Background(), lab.TestSpec{
		Packages: []string{"./ipvs", "./director"},
		Run:      "Reconcile", // within TestKernel*
		Lab:      lab.Spec{Output: os.Stdout},
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	rep.WriteDetails(os.Stdout)
	fmt.Println(rep.Summary()) // kernel lab: 6.1.0-56-amd64 (vm): 42 passed, 0 failed
}
