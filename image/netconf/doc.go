// Package netconf configures the box's network interface: an address from DHCP (the
// client of github.com/insomniacslk/dhcp, nclient4), renewed at T1, with a static
// configuration as the fallback when no lease comes within the lease timeout; the link's
// carrier watched, and the lease taken again when the cable comes back; the default route
// and DNS (resolv.conf) set from the lease or the static configuration.
//
// Guarantees:
//   - Run reports each change of State (link, mode, address, gateway, DNS, lease times);
//     Mode is "dhcp" only while a lease is held and applied, "static" while the fallback is
//     applied, "none" when neither is (no carrier yet, or DHCP only and no lease).
//   - A lease is kept until it expires: a failed renewal is tried again, and only an
//     expired lease gives way to discovery and, failing that, the static fallback; while
//     on the fallback DHCP is tried again every Retry, and a lease replaces the fallback.
//   - The interface is touched only through Host: the Linux one (NewLinux) by ioctl and a
//     NETLINK_ROUTE socket; tests give their own.
package netconf
