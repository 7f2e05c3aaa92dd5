// Package devlinks gives devices stable names, as udev rules would on a full system: the
// stage-1 init hears the kernel's uevents (a NETLINK_KOBJECT_UEVENT socket) and, for each
// device added, makes the symlink of the first rule of the board's spec (spec.Link) that it
// matches, by subsystem, kernel name and the USB device's vendor, product, serial and
// interface number (read from sysfs, walking up from the device as udev's ATTRS does). At
// start it does the same for the devices already there (Coldplug), since their events came
// before anyone listened.
//
// Guarantees: a link is made only to a device node that the event names (DEVNAME); a link
// held by a device that is still there is not taken by another that matches the same rule
// (the first one plugged in keeps it), and it is removed when that device goes. Parse
// refuses a message that is not a kernel uevent (udev's own "libudev" messages included),
// with a clear error; a rule table does nothing else than make and remove its links.
package devlinks
