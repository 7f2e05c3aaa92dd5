package devlinks

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"tillbox/image/spec"
)

// ErrNotUevent: the message is not a kernel uevent.
var ErrNotUevent = errors.New("not a kernel uevent")

// Event is one kernel uevent.
type Event struct {
	Action    string // add, remove, change, bind, unbind, move
	DevPath   string // under /sys: /devices/platform/...
	Subsystem string
	DevName   string // the node under /dev ("ttyUSB0", "input/event3"); "" none
	Env       map[string]string
}

// Parse decodes a kernel uevent: "ACTION@DEVPATH" then KEY=value strings, each ended by
// a NUL byte.
func Parse(b []byte) (Event, error) {
	parts := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	head := string(parts[0])
	action, devpath, ok := strings.Cut(head, "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return Event{}, fmt.Errorf("devlinks: parse: %w: header %q", ErrNotUevent, head[:min(len(head), 40)])
	}
	ev := Event{Env: map[string]string{}}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(string(p), "=")
		if !ok {
			return Event{}, fmt.Errorf("devlinks: parse: %w: field %q", ErrNotUevent, p)
		}
		ev.Env[k] = v
	}
	ev.Action, ev.DevPath, ev.Subsystem, ev.DevName = ev.Env["ACTION"], ev.Env["DEVPATH"], ev.Env["SUBSYSTEM"], ev.Env["DEVNAME"]
	if ev.Action != action || ev.DevPath != devpath || ev.Subsystem == "" {
		return Event{}, fmt.Errorf("devlinks: parse: %w: header %q disagrees with ACTION/DEVPATH or no SUBSYSTEM", ErrNotUevent, head)
	}
	return ev, nil
}

// Linker applies a rule table.
type Linker struct {
	Rules []spec.Link
	// Sys and Dev are where sysfs and the device nodes are (/sys, /dev; a test's tree).
	Sys, Dev string

	mu    sync.Mutex
	links map[string]string // link -> DEVNAME holding it
}

// usbAttrs are the USB attributes of the device at devpath: the nearest ancestor with
// idVendor gives vendor, product and serial, the nearest with bInterfaceNumber the
// interface.
func (l *Linker) usbAttrs(devpath string) (vendor, product, serial, iface string) {
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	for p := devpath; p != "/" && p != "." && p != ""; p = path.Dir(p) {
		dir := filepath.Join(l.Sys, p)
		if iface == "" {
			iface = read(dir, "bInterfaceNumber")
		}
		if v := read(dir, "idVendor"); v != "" {
			return v, read(dir, "idProduct"), read(dir, "serial"), iface
		}
	}
	return "", "", "", iface
}

// Match returns the first rule ev's device matches.
func (l *Linker) Match(ev Event) (spec.Link, bool) {
	if ev.DevName == "" {
		return spec.Link{}, false
	}
	name := path.Base(ev.DevName)
	vendor, product, serial, iface := l.usbAttrs(ev.DevPath)
	for _, r := range l.Rules {
		if r.Subsystem != ev.Subsystem {
			continue
		}
		if r.Kernel != "" {
			if ok, _ := path.Match(r.Kernel, name); !ok {
				continue
			}
		}
		if (r.Vendor != "" && !strings.EqualFold(r.Vendor, vendor)) || (r.Product != "" && !strings.EqualFold(r.Product, product)) ||
			(r.Serial != "" && r.Serial != serial) || (r.Interface != "" && r.Interface != iface) {
			continue
		}
		return r, true
	}
	return spec.Link{}, false
}

// Handle makes or removes ev's link. It returns what it did ("" nothing).
func (l *Linker) Handle(ev Event) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.links == nil {
		l.links = map[string]string{}
	}
	switch ev.Action {
	case "add":
		r, ok := l.Match(ev)
		if !ok {
			return "", nil
		}
		if holder, taken := l.links[r.Link]; taken && holder != ev.DevName {
			if _, err := os.Stat(filepath.Join(l.Dev, holder)); err == nil {
				return "", nil
			}
		}
		link := l.path(r.Link)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return "", fmt.Errorf("devlinks: %s: %w", r.Link, err)
		}
		tmp := link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(filepath.Join("/dev", ev.DevName), tmp); err != nil {
			return "", fmt.Errorf("devlinks: %s: %w", r.Link, err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("devlinks: %s: %w", r.Link, err)
		}
		l.links[r.Link] = ev.DevName
		return r.Link + " -> /dev/" + ev.DevName, nil
	case "remove":
		for link, holder := range l.links {
			if holder == ev.DevName && ev.DevName != "" {
				delete(l.links, link)
				if err := os.Remove(l.path(link)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return "", fmt.Errorf("devlinks: %s: %w", link, err)
				}
				return "removed " + link, nil
			}
		}
	}
	return "", nil
}

// path is a link's place under l.Dev (the link names are absolute /dev paths).
func (l *Linker) path(link string) string {
	return filepath.Join(l.Dev, strings.TrimPrefix(link, "/dev/"))
}

// Coldplug handles an "add" for every device of the rules' subsystems already present,
// from its sysfs uevent file; it returns what it did.
func (l *Linker) Coldplug() ([]string, error) {
	subs := map[string]bool{}
	for _, r := range l.Rules {
		subs[r.Subsystem] = true
	}
	var done []string
	for sub := range subs {
		entries, _ := os.ReadDir(filepath.Join(l.Sys, "class", sub))
		for _, e := range entries {
			real, err := filepath.EvalSymlinks(filepath.Join(l.Sys, "class", sub, e.Name()))
			if err != nil {
				continue
			}
			sysAbs, _ := filepath.Abs(l.Sys)
			sysReal, _ := filepath.EvalSymlinks(sysAbs)
			devpath := "/" + strings.TrimPrefix(strings.TrimPrefix(real, sysReal), "/")
			raw, err := os.ReadFile(filepath.Join(real, "uevent"))
			if err != nil {
				continue
			}
			msg := []byte("add@" + devpath + "\x00ACTION=add\x00DEVPATH=" + devpath + "\x00SUBSYSTEM=" + sub + "\x00")
			msg = append(msg, bytes.ReplaceAll(bytes.TrimSpace(raw), []byte("\n"), []byte{0})...)
			ev, err := Parse(msg)
			if err != nil {
				continue
			}
			did, err := l.Handle(ev)
			if err != nil {
				return done, err
			}
			if did != "" {
				done = append(done, did)
			}
		}
	}
	return done, nil
}
