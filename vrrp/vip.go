package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addrs adds and removes an instance's virtual addresses with netlink, in
// the network namespace the handle was opened in.
type addrs struct {
	nl   *netlink.Handle
	vips []vipLink
}

type vipLink struct {
	VIP
	link netlink.Link
}

func newAddrs(nl *netlink.Handle, vips []VIP) (*addrs, error) {
	a := &addrs{nl: nl}
	for _, v := range vips {
		l, err := nl.LinkByName(v.Device)
		if err != nil {
			return nil, fmt.Errorf("virtual address %v: device %s: %w", v.Prefix, v.Device, err)
		}
		a.vips = append(a.vips, vipLink{VIP: v, link: l})
	}
	return a, nil
}

func (v vipLink) nlAddr() *netlink.Addr {
	p := v.Prefix
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	na := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}}
	if p.Addr().Is6() {
		// Usable at once; duplicate address detection would hold the
		// address back for a second and fail during a handover.
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// add puts every address on its device; one already there is fine.
func (a *addrs) add() error {
	var errs []error
	for _, v := range a.vips {
		if err := a.nl.AddrAdd(v.link, v.nlAddr()); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("add %v to %s: %w", v.Prefix, v.Device, err))
		}
	}
	return errors.Join(errs...)
}

// remove takes every address off its device; one already gone is fine.
func (a *addrs) remove() error {
	var errs []error
	for _, v := range a.vips {
		if err := a.nl.AddrDel(v.link, v.nlAddr()); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("remove %v from %s: %w", v.Prefix, v.Device, err))
		}
	}
	return errors.Join(errs...)
}

// removeExcept takes off the addresses that are not in keep (same
// address, prefix length and device); one already gone is fine.
func (a *addrs) removeExcept(keep []VIP) error {
	var errs []error
	for _, v := range a.vips {
		if slices.ContainsFunc(keep, func(k VIP) bool { return k.Prefix == v.Prefix && k.Device == v.Device }) {
			continue
		}
		if err := a.nl.AddrDel(v.link, v.nlAddr()); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("remove %v from %s: %w", v.Prefix, v.Device, err))
		}
	}
	return errors.Join(errs...)
}

// removeStale deletes our virtual addresses from their devices whatever
// prefix length they carry: a crashed run (SIGKILL, power loss of the
// process) leaves them behind, and a backup must not answer for them.
func (a *addrs) removeStale() ([]netip.Prefix, error) {
	var removed []netip.Prefix
	var errs []error
	for _, v := range a.vips {
		family := netlink.FAMILY_V4
		if v.Prefix.Addr().Is6() {
			family = netlink.FAMILY_V6
		}
		list, err := a.nl.AddrList(v.link, family)
		if err != nil {
			errs = append(errs, fmt.Errorf("list addresses of %s: %w", v.Device, err))
			continue
		}
		for _, na := range list {
			ip, ok := netip.AddrFromSlice(na.IP)
			if !ok || ip.Unmap() != v.Prefix.Addr() {
				continue
			}
			if err := a.nl.AddrDel(v.link, &na); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("remove stale %v from %s: %w", ip, v.Device, err))
				continue
			}
			ones, _ := na.Mask.Size()
			removed = append(removed, netip.PrefixFrom(ip.Unmap(), ones))
		}
	}
	return removed, errors.Join(errs...)
}
