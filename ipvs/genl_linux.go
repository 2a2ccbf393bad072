package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// This file is lvsd's own small generic-netlink edge to the kernel's IPVS
// family: a socket bound to a network namespace, request/response framing,
// and the attribute codec. moby/ipvs does the ordinary writes; this edge
// does what the library cannot: the table dump (with tunnel settings and
// 64-bit counters, and without the library's per-message allocations), real
// servers with GUE/GRE tunnel options, and the connection sync daemon.

var native = binary.NativeEndian

const (
	genlIDCtrl            = 0x10
	ctrlCmdGetFamily      = 3
	ctrlAttrFamilyID      = 1
	ctrlAttrFamilyName    = 2
	ipvsGenlName          = "IPVS"
	ipvsGenlVersion       = 1
	nlaTypeMask           = 0x3fff // drops NLA_F_NESTED and NLA_F_NET_BYTEORDER
	genlHdrLen            = 4
	netlinkRecvBufferSize = 64 << 10
	netlinkTimeout        = 10 * time.Second
)

// IPVS generic netlink commands and attributes (linux/ip_vs.h).
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11

	cmdAttrService = 1
	cmdAttrDest    = 2
	cmdAttrDaemon  = 3

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrStats     = 10
	svcAttrPEName    = 11
	svcAttrStats64   = 12

	destAttrAddr         = 1
	destAttrPort         = 2
	destAttrFwdMethod    = 3
	destAttrWeight       = 4
	destAttrUThresh      = 5
	destAttrLThresh      = 6
	destAttrActiveConns  = 7
	destAttrInactConns   = 8
	destAttrPersistConns = 9
	destAttrStats        = 10
	destAttrAddrFamily   = 11
	destAttrStats64      = 12
	destAttrTunType      = 13
	destAttrTunPort      = 14
	destAttrTunFlags     = 15

	daemonAttrState      = 1
	daemonAttrMcastIfn   = 2
	daemonAttrSyncID     = 3
	daemonAttrSyncMaxLen = 4
	daemonAttrMcastGroup = 5
	daemonAttrMcastGrp6  = 6
	daemonAttrMcastPort  = 7
	daemonAttrMcastTTL   = 8

	statsAttrConns    = 1
	statsAttrInPkts   = 2
	statsAttrOutPkts  = 3
	statsAttrInBytes  = 4
	statsAttrOutBytes = 5
	statsAttrCPS      = 6
	statsAttrInPPS    = 7
	statsAttrOutPPS   = 8
	statsAttrInBPS    = 9
	statsAttrOutBPS   = 10
)

// genlConn is a generic netlink socket in one network namespace. It is not
// safe for concurrent use.
type genlConn struct {
	fd     int
	family uint16
	seq    uint32
	buf    []byte
	out    []byte
}

// dialGenl opens a generic netlink socket in the network namespace at
// nsPath ("" for the current one) and resolves the IPVS family.
func dialGenl(nsPath string) (*genlConn, error) { return dialGenlBuf(nsPath, netlinkRecvBufferSize) }

// dialGenlBuf is dialGenl with a receive buffer of bufSize bytes. The
// kernel sizes the buffers of a dump to the largest read it has seen on
// the socket (up to 32 KiB), so the buffer size is fixed for the socket's
// life: a smaller read later would truncate.
func dialGenlBuf(nsPath string, bufSize int) (*genlConn, error) {
	fd, err := socketIn(nsPath, unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	c := &genlConn{fd: fd, buf: make([]byte, bufSize), seq: uint32(time.Now().UnixNano())}
	tv := unix.NsecToTimeval(netlinkTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		c.close()
		return nil, fmt.Errorf("netlink socket: set receive timeout: %w", err)
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		c.close()
		return nil, fmt.Errorf("netlink socket: set send timeout: %w", err)
	}
	// Extended acks make the kernel say which attribute it refused.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.close()
		return nil, fmt.Errorf("netlink socket: bind: %w", err)
	}
	if err := c.resolveFamily(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// socketIn creates a socket inside the network namespace at path ("" for
// the current one). A socket stays in the namespace it was created in,
// whatever thread uses it later.
func socketIn(path string, domain, typ, proto int) (int, error) {
	mk := func() (int, error) {
		fd, err := unix.Socket(domain, typ, proto)
		if err != nil {
			return -1, fmt.Errorf("socket(%d, %d, %d): %w", domain, typ, proto, err)
		}
		return fd, nil
	}
	if path == "" {
		return mk()
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return -1, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer target.Close()
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	// A goroutine of its own, locked to its thread: if the thread cannot
	// leave the namespace, the goroutine ends still locked and the runtime
	// retires the thread instead of letting other code run in the wrong
	// namespace.
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("read current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, fmt.Errorf("enter network namespace %s: %w", path, err)}
			return
		}
		fd, serr := mk()
		if err := netns.Set(orig); err != nil {
			if serr == nil {
				unix.Close(fd)
			}
			ch <- result{-1, fmt.Errorf("return from network namespace %s: %w", path, err)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fd, serr}
	}()
	r := <-ch
	return r.fd, r.err
}

func (c *genlConn) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

func (c *genlConn) resolveFamily() error {
	var a attrs
	a.str(ctrlAttrFamilyName, ipvsGenlName)
	var id uint16
	err := c.request(genlIDCtrl, ctrlCmdGetFamily, 0, a.b, func(b []byte) error {
		return forAttrs(b, func(t uint16, v []byte) error {
			if t == ctrlAttrFamilyID && len(v) >= 2 {
				id = native.Uint16(v)
			}
			return nil
		})
	})
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("this kernel has no IPVS (generic netlink family %q not found; load the ip_vs module)", ipvsGenlName)
	}
	if err != nil {
		return fmt.Errorf("resolve generic netlink family %s: %w", ipvsGenlName, err)
	}
	if id == 0 {
		return fmt.Errorf("resolve generic netlink family %s: no id in the answer", ipvsGenlName)
	}
	c.family = id
	return nil
}

// ipvs sends an IPVS command. flags is 0 for a write (acknowledged) or
// unix.NLM_F_DUMP for a dump; each answer message's attributes (after the
// genl header) go to fn.
func (c *genlConn) ipvs(cmd uint8, flags uint16, payload []byte, fn func([]byte) error) error {
	return c.request(c.family, cmd, flags, payload, fn)
}

func (c *genlConn) request(family uint16, cmd uint8, flags uint16, payload []byte, fn func([]byte) error) error {
	c.seq++
	seq := c.seq
	n := unix.NLMSG_HDRLEN + genlHdrLen + len(payload)
	if cap(c.out) < n {
		c.out = make([]byte, n, n+256)
	}
	m := c.out[:n]
	native.PutUint32(m[0:4], uint32(n))
	native.PutUint16(m[4:6], family)
	fl := unix.NLM_F_REQUEST | flags
	if flags&unix.NLM_F_DUMP == 0 {
		fl |= unix.NLM_F_ACK
	}
	native.PutUint16(m[6:8], fl)
	native.PutUint32(m[8:12], seq)
	native.PutUint32(m[12:16], 0)
	m[16], m[17], m[18], m[19] = cmd, ipvsGenlVersion, 0, 0
	copy(m[20:], payload)
	if err := unix.Sendto(c.fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	for {
		r, _, err := unix.Recvfrom(c.fd, c.buf, unix.MSG_TRUNC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
			return fmt.Errorf("netlink: no answer from the kernel within %s", netlinkTimeout)
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if r > len(c.buf) {
			return fmt.Errorf("netlink receive: message of %d bytes truncated to %d", r, len(c.buf))
		}
		done, err := walkMessages(c.buf[:r], seq, fn)
		if err != nil || done {
			return err
		}
	}
}

// walkMessages hands the payload of each message answering seq to fn and
// reports whether the answer is complete (an ack, an error or the end of a
// dump). Messages for other sequence numbers (late answers to an earlier,
// abandoned request) are skipped.
func walkMessages(b []byte, seq uint32, fn func([]byte) error) (done bool, err error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(native.Uint32(b[0:4]))
		typ := native.Uint16(b[4:6])
		s := native.Uint32(b[8:12])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true, fmt.Errorf("netlink: malformed message (length %d of %d)", l, len(b))
		}
		body := b[unix.NLMSG_HDRLEN:l]
		b = b[min(align4(l), len(b)):]
		if s != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_NOOP:
			continue
		case unix.NLMSG_DONE:
			if len(body) >= 4 {
				if e := int32(native.Uint32(body)); e < 0 {
					return true, unix.Errno(-e)
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return true, errors.New("netlink: short error message")
			}
			if e := int32(native.Uint32(body)); e < 0 {
				return true, unix.Errno(-e)
			}
			return true, nil // the ack
		}
		if len(body) < genlHdrLen {
			return true, errors.New("netlink: message shorter than its generic netlink header")
		}
		if fn == nil {
			continue // an answer nobody asked to read
		}
		if err := fn(body[genlHdrLen:]); err != nil {
			return true, err
		}
	}
	return false, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// attrs builds netlink attributes.
type attrs struct{ b []byte }

func (a *attrs) put(t uint16, v []byte) {
	l := 4 + len(v)
	a.b = native.AppendUint16(a.b, uint16(l))
	a.b = native.AppendUint16(a.b, t)
	a.b = append(a.b, v...)
	for i := l; i < align4(l); i++ {
		a.b = append(a.b, 0)
	}
}

func (a *attrs) u8(t uint16, v uint8)   { a.put(t, []byte{v}) }
func (a *attrs) u16(t uint16, v uint16) { a.put(t, native.AppendUint16(nil, v)) }
func (a *attrs) u32(t uint16, v uint32) { a.put(t, native.AppendUint32(nil, v)) }
func (a *attrs) be16(t uint16, v uint16) {
	a.put(t, binary.BigEndian.AppendUint16(nil, v))
}
func (a *attrs) str(t uint16, s string) { a.put(t, append([]byte(s), 0)) }

// nest writes attribute t holding whatever fn writes.
func (a *attrs) nest(t uint16, fn func(*attrs)) {
	start := len(a.b)
	a.b = append(a.b, 0, 0, 0, 0)
	fn(a)
	native.PutUint16(a.b[start:], uint16(len(a.b)-start))
	native.PutUint16(a.b[start+2:], t)
}

// forAttrs calls fn for each attribute in b.
func forAttrs(b []byte, fn func(t uint16, v []byte) error) error {
	for len(b) >= 4 {
		l := int(native.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return fmt.Errorf("netlink: malformed attribute (length %d of %d)", l, len(b))
		}
		if err := fn(native.Uint16(b[2:4])&nlaTypeMask, b[4:l]); err != nil {
			return err
		}
		b = b[min(align4(l), len(b)):]
	}
	return nil
}

var errShortAttr = errors.New("netlink: attribute too short")

func getU8(v []byte) (uint8, error) {
	if len(v) < 1 {
		return 0, errShortAttr
	}
	return v[0], nil
}

func getU16(v []byte) (uint16, error) {
	if len(v) < 2 {
		return 0, errShortAttr
	}
	return native.Uint16(v), nil
}

func getBE16(v []byte) (uint16, error) {
	if len(v) < 2 {
		return 0, errShortAttr
	}
	return binary.BigEndian.Uint16(v), nil
}

func getU32(v []byte) (uint32, error) {
	if len(v) < 4 {
		return 0, errShortAttr
	}
	return native.Uint32(v), nil
}

// getUint reads a 32- or 64-bit counter (the kernel has both layouts).
func getUint(v []byte) (uint64, error) {
	switch {
	case len(v) >= 8:
		return native.Uint64(v), nil
	case len(v) >= 4:
		return uint64(native.Uint32(v)), nil
	}
	return 0, errShortAttr
}

func getString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}
