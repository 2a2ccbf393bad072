package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// netnsEnv marks a process that already entered the namespace its
// --netns flag names.
const netnsEnv = "LVSD_NETNS_ENTERED"

// enterNetns re-executes lvsd, with the same arguments, inside the
// network namespace at path (/run/netns/NAME or /proc/PID/ns/net), so
// that everything the daemon does (IPVS, checks, hooks) happens there. A
// Go process cannot move all its threads into a namespace; a thread can,
// and execve from it starts the new program image, with the same pid, in
// that thread's namespace. It returns only on error, and does nothing in
// the re-executed process.
func enterNetns(path string) error {
	if os.Getenv(netnsEnv) == path {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--netns %s: %w", path, err)
	}
	runtime.LockOSThread() // this thread is never handed back: it execs or the process exits
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		unix.Close(fd)
		return fmt.Errorf("--netns %s: enter: %w", path, err)
	}
	unix.Close(fd)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--netns %s: %w", path, err)
	}
	env := append(os.Environ(), netnsEnv+"="+path)
	if err := syscall.Exec(exe, os.Args, env); err != nil {
		return fmt.Errorf("--netns %s: re-execute %s: %w", path, exe, err)
	}
	return nil
}
