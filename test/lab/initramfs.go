package lab

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultModules are loaded at boot, in this order (each after its
// dependencies). Only ip_vs is required; a kernel without one of the others
// (ip_vs_twos is new in Linux 6.2) boots without it, and the lab says so.
var DefaultModules = []string{
	"ip_vs",
	"ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_sed",
	"ip_vs_nq", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_mh", "ip_vs_fo", "ip_vs_ovf", "ip_vs_twos",
	"nf_conntrack", "veth", "bridge", "ipip", "ip6_tunnel", "dummy", "macvlan", "sch_netem",
	"nf_tables", "nft_chain_nat", "nft_nat", "nft_ct", "nft_masq",
	// vishvananda/netlink opens an XFRM socket in every handle.
	"xfrm_user",
}

// requiredModules must load or the lab is pointless.
var requiredModules = map[string]bool{"ip_vs": true}

// DefaultBinaries are host programs installed in the guest with their shared
// libraries, at the path they have on the host, so they come before
// busybox's applets in PATH. Missing ones are left out with a note.
var DefaultBinaries = []string{
	"ip", "tc", "ss", "bridge", "ipvsadm", "keepalived", "nft", "dash", "bash",
}

// guestPATH is the PATH of everything the lab runs in the guest: host
// binaries (in /usr/sbin, /usr/bin) before busybox's applets (in /bin).
const guestPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// baseFormat changes whenever the layout of the base archive changes, so
// old cached archives are not reused.
const baseFormat = "lvsd-lab-base-4"

// initScript is /init. It mounts what tests expect, loads the modules,
// prints the ready marker, runs /lab/run (the run's payload) and prints the
// result marker with the exit code before powering off. The nonce comes in
// through the kernel command line, so output from the payload cannot fake a
// marker of a run it does not know.
const initScript = `#!/bin/busybox sh
export PATH=` + guestPATH + `
nonce=$LVSD_LAB_NONCE
unset LVSD_LAB_NONCE
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
read -r t0 _ < /proc/uptime
while read -r mod args; do
	insmod "$mod" $args || echo "lab: insmod $mod failed"
done < /lab/modules
/bin/busybox ip link set lo up
/bin/busybox hostname lab
export LVSD_LAB=1 HOME=/root
read -r t1 _ < /proc/uptime
echo "@@lab $nonce ready $t0 $t1"
cd /
if [ -x /lab/run ]; then
	/lab/run </dev/null
	rc=$?
else
	echo "lab: the initramfs has no /lab/run"
	rc=127
fi
echo "@@lab $nonce result $rc"
sync
poweroff -f
`

// Static files of the base archive's /etc.
var etcFiles = map[string]string{
	"/etc/passwd":        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nkeepalived_script:x:998:998::/nonexistent:/bin/false\n",
	"/etc/group":         "root:x:0:\nnogroup:x:65534:\nkeepalived_script:x:998:\n",
	"/etc/hosts":         "127.0.0.1\tlocalhost lab\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	"/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n",
	"/etc/hostname":      "lab\n",
}

// Host files copied into /etc when present.
var etcCopies = []string{"/etc/services", "/etc/protocols", "/etc/ethertypes"}

// Host directories copied when present (iproute2's tables).
var treeCopies = []string{"/etc/iproute2", "/usr/share/iproute2", "/usr/lib/iproute2"}

// notFound matches modprobe's complaint about a module it does not have.
var notFound = regexp.MustCompile(`Module (\S+) not found`)

// module is one kernel module to load, with its insmod arguments.
type module struct {
	Host  string // path on the host (maybe compressed)
	Guest string // path in the guest, always uncompressed .ko
	Args  string
}

// base is the part of the initramfs that depends only on the kernel and
// the host's tools: busybox, the modules, host binaries and /init. It is
// built once and cached by a hash of everything that goes into it.
type base struct {
	kernel   *Kernel
	modules  []module
	missing  []string          // optional modules this kernel lacks
	files    map[string]string // guest path -> host path
	links    map[string]string // guest path -> symlink target
	applets  []string
	notes    []string
	dep      []byte // modules.dep restricted to the modules we ship
	manifest string
}

// planBase works out what goes into the base archive without writing it.
func planBase(ctx context.Context, k *Kernel, extraModules, extraBinaries []string) (*base, error) {
	b := &base{kernel: k, files: map[string]string{}, links: map[string]string{}}
	if err := b.planModules(ctx, append(append([]string{}, DefaultModules...), extraModules...), extraModules); err != nil {
		return nil, err
	}
	if err := b.planBinaries(ctx, extraBinaries); err != nil {
		return nil, err
	}
	for _, f := range etcCopies {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			b.files[f] = f
		}
	}
	var m strings.Builder
	fmt.Fprintf(&m, "%s\nkernel %s %s\n", baseFormat, k.Release, k.Image)
	for _, mod := range b.modules {
		fmt.Fprintf(&m, "module %s %s %s\n", mod.Guest, fileStamp(mod.Host), mod.Args)
	}
	for _, g := range sortedKeys(b.files) {
		fmt.Fprintf(&m, "file %s %s %s\n", g, b.files[g], fileStamp(b.files[g]))
	}
	for _, g := range sortedKeys(b.links) {
		fmt.Fprintf(&m, "link %s %s\n", g, b.links[g])
	}
	for _, d := range treeCopies {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			fmt.Fprintf(&m, "tree %s %s\n", d, treeStamp(d))
		}
	}
	fmt.Fprintf(&m, "applets %s\ninit %x\n", strings.Join(b.applets, ","), sha256.Sum256([]byte(initScript)))
	for _, g := range sortedKeys(etcFiles) {
		fmt.Fprintf(&m, "etc %s %x\n", g, sha256.Sum256([]byte(etcFiles[g])))
	}
	b.manifest = m.String()
	return b, nil
}

func fileStamp(p string) string {
	st, err := os.Stat(p)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d:%d", st.Size(), st.ModTime().UnixNano())
}

func treeStamp(dir string) string {
	h := sha256.New()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (b *base) planModules(ctx context.Context, names, extra []string) error {
	k := b.kernel
	isExtra := map[string]bool{}
	for _, n := range extra {
		isExtra[n] = true
	}
	// One modprobe for all: it orders each module after its dependencies
	// and prints every module once. Modules it cannot find come back as
	// warnings.
	args := append([]string{"-d", k.ModRoot, "-S", k.Release, "--show-depends", "-a"}, names...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "modprobe", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	missing := map[string]bool{}
	for _, m := range notFound.FindAllStringSubmatch(stderr.String(), -1) {
		missing[m[1]] = true
	}
	if err != nil && len(missing) == 0 {
		return fmt.Errorf("modprobe --show-depends for kernel %s: %w: %s", k.Release, err, bytes.TrimSpace(stderr.Bytes()))
	}
	for _, name := range names {
		if !missing[name] {
			continue
		}
		if requiredModules[name] || isExtra[name] {
			return fmt.Errorf("kernel %s has no module %s", k.Release, name)
		}
		b.missing = append(b.missing, name)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "insmod" || seen[f[1]] {
			continue
		}
		seen[f[1]] = true
		rel, err := filepath.Rel(k.ModRoot, f[1])
		if err != nil {
			return fmt.Errorf("module %s outside %s", f[1], k.ModRoot)
		}
		guest := "/" + filepath.ToSlash(rel)
		for _, ext := range []string{".xz", ".zst", ".gz"} {
			guest = strings.TrimSuffix(guest, ext)
		}
		b.modules = append(b.modules, module{Host: f[1], Guest: guest, Args: strings.Join(f[2:], " ")})
	}
	// A modules.dep for the shipped modules only, so that `modprobe ip_vs`
	// in the guest (moby/ipvs runs it) finds the module already loaded
	// instead of complaining about a missing modules.dep.
	modDir := filepath.Join(k.ModRoot, "lib", "modules", k.Release)
	dep, err := os.ReadFile(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return fmt.Errorf("kernel %s: %w", k.Release, err)
	}
	shipped := map[string]bool{}
	for _, m := range b.modules {
		shipped[strings.TrimPrefix(m.Guest, "/lib/modules/"+k.Release+"/")] = true
	}
	strip := func(s string) string {
		for _, ext := range []string{".xz", ".zst", ".gz"} {
			s = strings.TrimSuffix(s, ext)
		}
		return s
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(dep))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		mod, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok || !shipped[strip(mod)] {
			continue
		}
		fmt.Fprintf(&out, "%s:", strip(mod))
		for _, d := range strings.Fields(deps) {
			fmt.Fprintf(&out, " %s", strip(d))
		}
		out.WriteByte('\n')
	}
	b.dep = out.Bytes()
	return nil
}

// planBinaries adds busybox, the default and the extra host binaries and
// every shared library they load (the ldd closure plus the loader).
func (b *base) planBinaries(ctx context.Context, extra []string) error {
	bb, err := lookHost("busybox")
	if err != nil {
		return fmt.Errorf("busybox (Debian package busybox-static) is needed for the lab: %w", err)
	}
	if err := b.addBinary(ctx, "/bin/busybox", bb); err != nil {
		return err
	}
	provided := map[string]bool{}
	want := append(append([]string{}, DefaultBinaries...), extra...)
	isExtra := map[string]bool{}
	for _, e := range extra {
		isExtra[e] = true
	}
	for _, name := range want {
		p, err := lookHost(name)
		if err != nil {
			if isExtra[name] {
				return fmt.Errorf("host binary %s for the lab: %w", name, err)
			}
			b.notes = append(b.notes, "no "+name+" on the host")
			continue
		}
		// The program goes where the host has it (symlinks followed for the
		// content only): with PATH searched in guestPATH's order, that
		// puts it before busybox's applets in /bin.
		guest := p
		if err := b.addBinary(ctx, guest, p); err != nil {
			return err
		}
		provided[filepath.Base(guest)] = true
	}
	// Like usrmerge: /bin/bash and /sbin/ip work too (shebangs, scripts
	// written on Debian).
	for g := range b.files {
		for _, d := range []string{"/usr/bin/", "/usr/sbin/"} {
			if rest, ok := strings.CutPrefix(g, d); ok && !strings.Contains(rest, "/") {
				short := strings.TrimPrefix(d, "/usr")
				if _, taken := b.files[short+rest]; !taken {
					b.links[short+rest] = g
				}
			}
		}
	}
	// dash as /bin/sh: busybox's ash runs its own applets before PATH (its
	// `ip` has no netns), dash finds iproute2's.
	if g, ok := b.guestOf("dash"); ok {
		b.links["/bin/sh"] = g
		provided["sh"] = true
	}
	out, err := exec.CommandContext(ctx, bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if provided[a] || a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		b.applets = append(b.applets, a)
	}
	sort.Strings(b.applets)
	return nil
}

func (b *base) guestOf(name string) (string, bool) {
	for g := range b.files {
		if path.Base(g) == name && (strings.HasSuffix(path.Dir(g), "bin")) {
			return g, true
		}
	}
	return "", false
}

func (b *base) addBinary(ctx context.Context, guest, host string) error {
	b.files[guest] = host
	libs, err := sharedLibs(ctx, host)
	if err != nil {
		return err
	}
	for _, l := range libs {
		b.files[l] = l
	}
	return nil
}

// lookHost finds a program on the host, looking in the sbin directories too
// (a non-root PATH often lacks them).
func lookHost(name string) (string, error) {
	if filepath.IsAbs(name) {
		st, err := os.Stat(name)
		if err != nil {
			return "", err
		}
		if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%s is not an executable file", name)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(guestPATH + ":" + os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s or $PATH", name, guestPATH)
}

// sharedLibs returns the libraries ldd says bin loads, the dynamic loader
// included. A static binary has none.
func sharedLibs(ctx context.Context, bin string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "ldd", bin)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	text := out.String()
	if strings.Contains(text, "not a dynamic executable") || strings.Contains(text, "statically linked") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w: %s", bin, err, strings.TrimSpace(text))
	}
	var libs []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: %s", bin, line)
		}
		var p string
		if _, after, ok := strings.Cut(line, "=> "); ok {
			p, _, _ = strings.Cut(after, " ")
		} else if strings.HasPrefix(line, "/") {
			p, _, _ = strings.Cut(line, " ")
		}
		if strings.HasPrefix(p, "/") {
			libs = append(libs, p)
		}
	}
	return libs, nil
}

// key names the cached archive.
func (b *base) key() string {
	sum := sha256.Sum256([]byte(b.manifest))
	return hex.EncodeToString(sum[:8])
}

// write writes the base archive (uncompressed: under TCG the kernel
// unpacks a plain cpio about 0.5 s faster than a gzipped one).
func (b *base) write(w io.Writer) error {
	c := newCPIOWriter(w)
	for _, d := range []string{"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/lib64", "/etc", "/root", "/lab", "/src", "/var", "/mnt"} {
		c.Dir(d, 0o755)
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/run"} {
		c.Dir(d, 0o755)
	}
	c.Dir("/tmp", 0o1777)
	c.Dir("/var/tmp", 0o1777)
	c.Symlink("/var/run", "/run")
	c.CharDev("/dev/console", 0o600, 5, 1)
	c.CharDev("/dev/null", 0o666, 1, 3)
	c.Bytes("/init", 0o755, []byte(initScript))
	for _, g := range sortedKeys(etcFiles) {
		c.Bytes(g, 0o644, []byte(etcFiles[g]))
	}
	for _, d := range treeCopies {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			c.Tree(d, d, nil)
		}
	}
	c.Dir("/etc/keepalived", 0o755)
	for _, g := range sortedKeys(b.files) {
		c.File(g, b.files[g])
	}
	for _, g := range sortedKeys(b.links) {
		c.Symlink(g, b.links[g])
	}
	for _, a := range b.applets {
		c.Symlink("/bin/"+a, "busybox")
	}
	var list strings.Builder
	for _, m := range b.modules {
		data, err := readModule(m.Host)
		if err != nil {
			return err
		}
		c.Bytes(m.Guest, 0o644, data)
		fmt.Fprintf(&list, "%s %s\n", m.Guest, m.Args)
	}
	c.Bytes("/lib/modules/"+b.kernel.Release+"/modules.dep", 0o644, b.dep)
	c.Bytes("/lab/modules", 0o644, []byte(list.String()))
	c.Bytes("/lab/kernel", 0o644, []byte(b.kernel.Release+"\n"))
	return c.Close()
}

// readModule returns the module's plain .ko bytes: busybox insmod does not
// decompress.
func readModule(p string) ([]byte, error) {
	switch {
	case strings.HasSuffix(p, ".gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", p, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(p, ".xz"), strings.HasSuffix(p, ".zst"):
		tool := "xz"
		if strings.HasSuffix(p, ".zst") {
			tool = "zstd"
		}
		out, err := exec.Command(tool, "-dc", p).Output()
		if err != nil {
			return nil, fmt.Errorf("module %s: %s -dc: %w", p, tool, err)
		}
		return out, nil
	default:
		return os.ReadFile(p)
	}
}

// baseArchive returns the path of the cached base archive for b, writing
// it if needed. Old archives beyond the newest few are removed.
func baseArchive(cacheDir string, b *base) (path string, built bool, err error) {
	dir := filepath.Join(cacheDir, "initramfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	p := filepath.Join(dir, "base-"+b.kernel.Release+"-"+b.key()+".cpio")
	if _, err := os.Stat(p); err == nil {
		now := timeNow()
		_ = os.Chtimes(p, now, now) // most recently used survives pruning
		return p, false, nil
	}
	f, err := os.CreateTemp(dir, ".base-")
	if err != nil {
		return "", false, err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", false, err
	}
	if err := b.write(f); err != nil {
		f.Close()
		return "", false, fmt.Errorf("write base initramfs: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(p+".manifest", []byte(b.manifest), 0o644); err != nil {
		return "", false, err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return "", false, err
	}
	pruneBases(dir, 4)
	return p, true, nil
}

func pruneBases(dir string, keep int) {
	ms, _ := filepath.Glob(filepath.Join(dir, "base-*.cpio"))
	if len(ms) <= keep {
		return
	}
	type ent struct {
		p string
		t int64
	}
	var es []ent
	for _, m := range ms {
		if st, err := os.Stat(m); err == nil {
			es = append(es, ent{m, st.ModTime().UnixNano()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].t > es[j].t })
	for _, e := range es[keep:] {
		os.Remove(e.p)
		os.Remove(e.p + ".manifest")
	}
}
