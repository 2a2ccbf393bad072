package lab

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// Kernel is a kernel the lab can boot, with its modules.
type Kernel struct {
	// Release is the kernel's `uname -r`, e.g. 6.1.0-56-amd64.
	Release string
	// Image is the file QEMU boots: the uncompressed vmlinux when it could
	// be extracted (boots 2 to 3 s faster under TCG), else the vmlinuz.
	Image string
	// ModRoot is the directory holding lib/modules/<Release> (with
	// modules.dep), as `modprobe -d` takes it.
	ModRoot string
	// Source says where the kernel came from, for messages.
	Source string
}

// HostHasIPVS reports whether the running kernel has IPVS, loading the
// module if it can. Then the lab runs natively.
func HostHasIPVS() bool {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return true
	}
	if p, err := exec.LookPath("modprobe"); err == nil {
		if exec.Command(p, "ip_vs").Run() == nil {
			_, err := os.Stat("/proc/net/ip_vs")
			return err == nil
		}
	}
	return false
}

func uname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// hostKernel returns the host's own kernel if its image is readable and its
// modules include ip_vs.
func hostKernel(cacheDir string) (*Kernel, bool) {
	rel := uname()
	if rel == "" {
		return nil, false
	}
	img := "/boot/vmlinuz-" + rel
	f, err := os.Open(img)
	if err != nil {
		return nil, false
	}
	f.Close()
	mods := filepath.Join("/lib/modules", rel)
	if _, err := os.Stat(filepath.Join(mods, "modules.dep")); err != nil {
		return nil, false
	}
	found, _ := filepath.Glob(filepath.Join(mods, "kernel/net/netfilter/ipvs/ip_vs.ko*"))
	if len(found) == 0 {
		return nil, false
	}
	k := &Kernel{Release: rel, Image: img, ModRoot: "/", Source: "the host's own kernel " + img}
	// The uncompressed image goes to the cache; the host's /boot is not ours.
	vmlinux := filepath.Join(cacheDir, "kernel", "host-"+rel, "vmlinux")
	if _, err := os.Stat(vmlinux); err == nil {
		k.Image = vmlinux
	} else if os.MkdirAll(filepath.Dir(vmlinux), 0o755) == nil && extractVmlinux(img, vmlinux) == nil {
		k.Image = vmlinux
	}
	return k, true
}

// debianKernel returns Debian's kernel package, unpacked in the cache. It
// downloads only when the package named by linux-image-amd64 (or by the
// meta-package LVSD_LAB_KERNEL_META, e.g. linux-image-6.12-amd64, or the
// versioned LVSD_LAB_KERNEL_PACKAGE) is not in the cache yet.
func debianKernel(ctx context.Context, cacheDir string, logf func(string, ...any)) (*Kernel, error) {
	kdir := filepath.Join(cacheDir, "kernel")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return nil, fmt.Errorf("kernel cache %s: %w", kdir, err)
	}
	unlock, err := lockDir(kdir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	pkg := os.Getenv("LVSD_LAB_KERNEL_PACKAGE")
	if pkg == "" {
		pkg, err = resolveKernelPackageCached(ctx, kdir, logf)
		if err != nil {
			// Offline, or apt lists gone: any kernel already unpacked will do.
			if k := newestCachedKernel(kdir); k != nil {
				logf("lab: %v; using the cached %s", err, k.Source)
				return k, nil
			}
			return nil, err
		}
	}
	if k, err := cachedKernel(filepath.Join(kdir, pkg)); err == nil {
		return k, nil
	}
	return fetchKernel(ctx, kdir, pkg, logf)
}

const defaultKernelMeta = "linux-image-amd64"

// kernelMeta is the meta-package that names the kernel to boot: Debian's
// default kernel unless LVSD_LAB_KERNEL_META picks another series (make test
// also runs the ipvs tests on linux-image-6.12-amd64, whose IPVS has the
// twos scheduler that 6.1 lacks).
func kernelMeta() string {
	if m := os.Getenv("LVSD_LAB_KERNEL_META"); m != "" {
		return m
	}
	return defaultKernelMeta
}

// aptLists is where apt keeps the package lists; its modification time
// changes with every apt-get update.
const aptLists = "/var/lib/apt/lists"

// resolveKernelPackageCached remembers the answer of resolveKernelPackage
// (apt-cache takes a second) until the apt lists change.
func resolveKernelPackageCached(ctx context.Context, kdir string, logf func(string, ...any)) (string, error) {
	memo := filepath.Join(kdir, "resolved")
	if m := kernelMeta(); m != defaultKernelMeta {
		memo += "-" + m
	}
	stamp := func() string {
		st, err := os.Stat(aptLists)
		if err != nil {
			return ""
		}
		return fmt.Sprint(st.ModTime().UnixNano())
	}
	if b, err := os.ReadFile(memo); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 && f[0] == stamp() && f[0] != "" {
			return f[1], nil
		}
	}
	pkg, err := resolveKernelPackage(ctx, logf)
	if err != nil {
		return "", err
	}
	_ = os.WriteFile(memo, []byte(stamp()+" "+pkg+"\n"), 0o644)
	return pkg, nil
}

// resolveKernelPackage asks apt which versioned package linux-image-amd64
// depends on (linux-image-6.1.0-56-amd64). This reads the local apt lists
// only; when they are missing it runs apt-get update once (root only).
func resolveKernelPackage(ctx context.Context, logf func(string, ...any)) (string, error) {
	meta := kernelMeta()
	try := func() (string, error) {
		out, err := exec.CommandContext(ctx, "apt-cache", "depends", meta).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("apt-cache depends %s: %w: %s", meta, err, bytes.TrimSpace(out))
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
				return f[1], nil
			}
		}
		return "", fmt.Errorf("apt-cache depends %s names no linux-image package", meta)
	}
	pkg, err := try()
	if err == nil {
		return pkg, nil
	}
	if os.Geteuid() != 0 {
		return "", err
	}
	logf("lab: %v; running apt-get update", err)
	if out, uerr := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); uerr != nil {
		return "", fmt.Errorf("apt-get update: %w: %s", uerr, lastLines(string(out), 5))
	}
	return try()
}

// cachedKernel loads a kernel unpacked by fetchKernel; dir/ready marks one
// that was unpacked completely.
func cachedKernel(dir string) (*Kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "ready"))
	if err != nil {
		return nil, err
	}
	rel := strings.TrimSpace(string(b))
	k := &Kernel{Release: rel, ModRoot: filepath.Join(dir, "root"), Source: "Debian package " + filepath.Base(dir)}
	k.Image = filepath.Join(dir, "vmlinux")
	if _, err := os.Stat(k.Image); err != nil {
		k.Image = filepath.Join(dir, "root", "boot", "vmlinuz-"+rel)
	}
	if _, err := os.Stat(k.Image); err != nil {
		return nil, fmt.Errorf("cached kernel %s: %w", dir, err)
	}
	return k, nil
}

func newestCachedKernel(kdir string) *Kernel {
	ents, _ := os.ReadDir(kdir)
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "linux-image-") {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		if k, err := cachedKernel(filepath.Join(kdir, n)); err == nil {
			return k
		}
	}
	return nil
}

// fetchKernel downloads pkg with apt-get download (no install: nothing on
// the host changes), unpacks it with dpkg -x, runs depmod (the .deb has no
// modules.dep) and extracts vmlinux. The work happens in a temporary
// directory renamed into place at the end, so an interrupted fetch leaves
// nothing that looks ready.
func fetchKernel(ctx context.Context, kdir, pkg string, logf func(string, ...any)) (*Kernel, error) {
	final := filepath.Join(kdir, pkg)
	tmp, err := os.MkdirTemp(kdir, ".fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logf("lab: downloading %s (Debian's kernel package; once, into %s)", pkg, kdir)
	run := func(dir string, name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(string(out), 5))
		}
		return nil
	}
	// The _apt sandbox user cannot write into the cache; download as ourselves.
	dl := func() error { return run(tmp, "apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg) }
	if err := dl(); err != nil {
		if os.Geteuid() != 0 {
			return nil, err
		}
		// A stale list names a .deb the mirror no longer has.
		logf("lab: %v; running apt-get update and retrying", err)
		if uerr := run(tmp, "apt-get", "update", "-q"); uerr != nil {
			return nil, uerr
		}
		if err := dl(); err != nil {
			return nil, err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("apt-get download %s left %d .deb files in %s", pkg, len(debs), tmp)
	}
	root := filepath.Join(tmp, "root")
	if err := run(tmp, "dpkg", "-x", debs[0], root); err != nil {
		return nil, err
	}
	if err := os.Remove(debs[0]); err != nil {
		return nil, err
	}
	rels, _ := os.ReadDir(filepath.Join(root, "lib", "modules"))
	if len(rels) != 1 {
		return nil, fmt.Errorf("%s: expected one directory in lib/modules, found %d", pkg, len(rels))
	}
	rel := rels[0].Name()
	if err := run(tmp, "depmod", "-b", root, rel); err != nil {
		return nil, err
	}
	vmlinuz := filepath.Join(root, "boot", "vmlinuz-"+rel)
	if err := extractVmlinux(vmlinuz, filepath.Join(tmp, "vmlinux")); err != nil {
		logf("lab: %v; booting the compressed vmlinuz instead (slower)", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ready"), []byte(rel+"\n"), 0o644); err != nil {
		return nil, err
	}
	_ = os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return nil, err
	}
	return cachedKernel(final)
}

// extractVmlinux writes the uncompressed kernel ELF held inside the bzImage
// vmlinuz to dst. The payload is found by its compression magic; the result
// must be an ELF file or it is not used.
func extractVmlinux(vmlinuz, dst string) error {
	img, err := os.ReadFile(vmlinuz)
	if err != nil {
		return err
	}
	var lastErr error = fmt.Errorf("extract vmlinux from %s: no known compressed payload", vmlinuz)
	for _, m := range []struct {
		magic []byte
		cmd   []string // nil: gzip in Go
	}{
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, []string{"xz", "-dc", "--single-stream"}},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dcq"}},
		{[]byte{0x1f, 0x8b, 0x08}, nil},
	} {
		off := bytes.Index(img, m.magic)
		if off < 0 {
			continue
		}
		var out bytes.Buffer
		if m.cmd == nil {
			zr, err := gzip.NewReader(bytes.NewReader(img[off:]))
			if err != nil {
				lastErr = err
				continue
			}
			zr.Multistream(false)
			_, err = io.Copy(&out, zr)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && out.Len() == 0 {
				lastErr = err
				continue
			}
		} else {
			cmd := exec.Command(m.cmd[0], m.cmd[1:]...)
			cmd.Stdin = bytes.NewReader(img[off:])
			cmd.Stdout = &out
			// Trailing bytes after the stream make some tools complain even
			// though the output is complete; the ELF check below decides.
			_ = cmd.Run()
		}
		if !bytes.HasPrefix(out.Bytes(), []byte("\x7fELF")) {
			lastErr = fmt.Errorf("extract vmlinux from %s: payload at %d is not an ELF image", vmlinuz, off)
			continue
		}
		tmp := dst + ".tmp"
		if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, dst)
	}
	return lastErr
}

// lockDir takes an exclusive lock on dir (a lock file inside it), so that
// parallel runs sharing a cache do not unpack the same kernel twice.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
