package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tillbox/drivers/printer/printertest"
	"tillbox/drivers/scanner"
	"tillbox/drivers/scanner/scannertest"
	"tillbox/image/build"
	"tillbox/image/bundle"
	"tillbox/image/clock/ntptest"
	"tillbox/image/spec"
	"tillbox/uplink/hq"
	"tillbox/uplink/rig"
)

const firmware = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

// box is one box under qemu with its host-side world.
type box struct {
	t       *testing.T // the running test or step: failures and per-boot cleanups go to it
	top     *testing.T // the whole test: what outlives a step (the console log)
	root    string     // the repository
	dir     string
	cache   string
	key     ed25519.PrivateKey
	pubFile string
	config  []byte
	disk    string
	// snapshot boots the disk with qemu's -snapshot: what the boot writes is not kept.
	snapshot bool

	printer *printertest.Printer
	scanMu  sync.Mutex
	scan    *scannertest.Serial
	store   hq.Store
	broker  string // head office's broker, as the host reaches it

	ntp    *ntptest.Server // the host's NTP server, 10.0.2.2:port from the guest
	con    *console
	booted int // the console's position when the last boot started
	qemu   *exec.Cmd
	done   chan error
	qmp    *qmp
}

func newBox(t *testing.T) *box {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-aarch64"); err != nil {
		t.Skip("qemu-system-aarch64 not installed (scripts/deps.sh)")
	}
	if _, err := os.Stat(firmware); err != nil {
		t.Skip("no arm64 UEFI firmware (qemu-efi-aarch64)")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	r := &box{t: t, top: t, root: root, dir: t.TempDir(), cache: filepath.Join(root, ".cache", "image")}
	fetch := exec.Command("bash", filepath.Join(root, "scripts", "image-fetch.sh"), r.cache)
	if out, err := fetch.CombinedOutput(); err != nil {
		t.Skipf("kernel cache not available: %v\n%s", err, out)
	}
	// A key made for this test only: nothing signed with it is kept.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r.key = priv
	r.pubFile = filepath.Join(r.dir, "update.pub")
	os.WriteFile(r.pubFile, bundle.MarshalPublic(pub), 0o644)

	// Head office: Mosquitto on the host's loopback, which the guest reaches as 10.0.2.2,
	// and a consumer storing what arrives.
	m := rig.StartMosquitto(t, &rig.MosquittoOptions{Extra: []string{"max_inflight_messages 1000"}})
	st, err := hq.OpenBolt(filepath.Join(r.dir, "hq.db"))
	if err != nil {
		t.Fatal(err)
	}
	r.store, r.broker = st, m.URL()
	c, err := hq.NewConsumer(st, &hq.Options{Broker: m.URL(), Prefix: "tillbox/v1", ClientID: "vmtest-hq"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hqDone := make(chan struct{})
	go func() { c.Run(ctx); close(hqDone) }()
	t.Cleanup(func() { cancel(); <-hqDone; st.Close() })
	port := m.Addr[strings.LastIndex(m.Addr, ":")+1:]
	r.config = []byte(fmt.Sprintf(`{"board":"qemu-virt","data":"/data/tillbox","uplink":{"broker":"tcp://10.0.2.2:%s","prefix":"tillbox/v1","embedded":false},"devices":{"keypad":{"path":"/dev/input/keypad"}}}`, port))

	r.ntp, err = ntptest.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ntp.Close() })

	r.printer = printertest.New(nil)
	r.listen("printer.sock", func(c net.Conn) { r.printer.Serve(c) })
	r.listen("scanner.sock", func(c net.Conn) {
		r.scanMu.Lock()
		r.scan = scannertest.NewSerial(c, scanner.SuffixCR)
		r.scanMu.Unlock()
		io.Copy(io.Discard, c)
	})
	r.listen("display.sock", func(c net.Conn) { io.Copy(io.Discard, c) })
	return r
}

// listen serves each connection qemu makes to a peripheral's socket (one per boot).
func (r *box) listen(name string, serve func(net.Conn)) {
	l, err := net.Listen("unix", filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
}

// goBuild cross-compiles a main package of the module for the box, as scripts/image.sh
// does (the tag noembeddedhq leaves the embedded head office out of tillbox).
func (r *box) goBuild(pkg, out, ldflags string) string {
	r.t.Helper()
	c := exec.Command("go", "build", "-trimpath", "-tags", "noembeddedhq", "-ldflags", "-s -w "+ldflags, "-o", out, pkg)
	c.Dir = r.root
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	if b, err := c.CombinedOutput(); err != nil {
		r.t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// rootfs builds a slot image of version with the given init and tillbox packages.
func (r *box) rootfs(version, initPkg, tillboxPkg string) string {
	r.t.Helper()
	d := filepath.Join(r.dir, "v"+version)
	os.MkdirAll(d, 0o755)
	o := build.Options{Board: "qemu-virt", Version: version, Cache: r.cache, Keys: r.pubFile, Work: d,
		Init:    r.goBuild(initPkg, filepath.Join(d, "init"), ""),
		Tillbox: r.goBuild(tillboxPkg, filepath.Join(d, "tillbox"), "-X main.version="+version)}
	out := filepath.Join(d, "rootfs.squashfs")
	if err := build.Rootfs(o, out); err != nil {
		r.t.Fatal(err)
	}
	if version == "1.0.0" {
		r.disk = filepath.Join(r.dir, "disk.img")
		if err := build.Disk(o, out, r.config, r.disk); err != nil {
			r.t.Fatal(err)
		}
		r.dataFile("tillbox/network.json", fmt.Sprintf(`{"ntp":["10.0.2.2:%d"]}`+"\n", r.ntp.Port()))
	}
	return out
}

// onDataPartition copies the disk image's data partition (ext4) to a file, replays its
// journal and checks it (after a power cut the journal holds what the box committed last,
// as the box's kernel would replay it at its next mount), lets edit change that copy, and
// writes it back in place. qemu must be stopped.
func (r *box) onDataPartition(edit func(part string)) {
	r.t.Helper()
	sp, _ := spec.ForBoard("qemu-virt")
	off := int64(1+sp.BootMiB+2*sp.SlotMiB) << 20
	size := int64(sp.DataMiB) << 20
	f, err := os.OpenFile(r.disk, os.O_RDWR, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	part := filepath.Join(r.dir, "data-part.img")
	defer os.Remove(part)
	buf := make([]byte, size)
	if _, err := f.ReadAt(buf, off); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(part, buf, 0o644); err != nil {
		r.t.Fatal(err)
	}
	if out, err := exec.Command("e2fsck", "-fy", part).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() >= 4 {
			r.t.Fatalf("e2fsck of the data partition: %v\n%s", err, out)
		}
	}
	if edit != nil {
		edit(part)
	}
	if buf, err = os.ReadFile(part); err != nil {
		r.t.Fatal(err)
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		r.t.Fatal(err)
	}
}

// dataFile writes a file into the disk image's data partition (through debugfs on a copy
// of the partition written back in place).
func (r *box) dataFile(name, content string) {
	r.t.Helper()
	src := filepath.Join(r.dir, "data-file")
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.onDataPartition(func(part string) {
		dir, base := filepath.Split(name)
		cmd := fmt.Sprintf("cd /%s\nwrite %s %s\n", dir, src, base)
		c := exec.Command("debugfs", "-w", "-f", "-", part)
		c.Stdin = strings.NewReader(cmd)
		if out, err := c.CombinedOutput(); err != nil || bytes.Contains(out, []byte("rror")) {
			r.t.Fatalf("debugfs: %v\n%s", err, out)
		}
	})
}

// stick writes a bundle of rootfs as an update stick image (padded to whole sectors).
func (r *box) stick(rootfs, version string, tamper bool) string {
	r.t.Helper()
	in, err := os.Open(rootfs)
	if err != nil {
		r.t.Fatal(err)
	}
	defer in.Close()
	fi, _ := in.Stat()
	var b bytes.Buffer
	if _, err := bundle.Create(&b, bundle.Manifest{Board: "qemu-virt", Version: version}, in, fi.Size(), r.key); err != nil {
		r.t.Fatal(err)
	}
	raw := b.Bytes()
	if tamper {
		raw[int64(len(raw))-fi.Size()/2] ^= 0x01
	}
	raw = append(raw, make([]byte, (512-len(raw)%512)%512)...)
	p := filepath.Join(r.dir, fmt.Sprintf("stick-%s-%v.img", version, tamper))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// slotSum hashes a slot's region of the disk image (qemu stopped).
func (r *box) slotSum(slot string) [32]byte {
	r.t.Helper()
	sp, _ := spec.ForBoard("qemu-virt")
	off := int64(1+sp.BootMiB) << 20
	if slot == "B" {
		off += int64(sp.SlotMiB) << 20
	}
	f, err := os.Open(r.disk)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, io.NewSectionReader(f, off, int64(sp.SlotMiB)<<20))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// boot starts qemu (with an update stick when stick is not ""). -no-reboot makes every
// reboot of the guest, the watchdog's included, end qemu, so the test sees each boot.
func (r *box) boot(stick string) time.Time {
	r.t.Helper()
	if r.qemu != nil {
		r.t.Fatal("boot: qemu already running")
	}
	p := func(n string) string { return filepath.Join(r.dir, n) }
	args := []string{"-M", "virt", "-cpu", "cortex-a53", "-m", "512", "-smp", "2",
		"-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot", "-bios", firmware,
		"-drive", "if=none,id=d0,format=raw,file=" + r.disk, "-device", "virtio-blk-pci,drive=d0"}
	if r.snapshot {
		args = append(args, "-snapshot")
	}
	if stick != "" {
		args = append(args, "-drive", "if=none,id=d1,format=raw,readonly=on,file="+stick, "-device", "virtio-blk-pci,drive=d1")
	}
	args = append(args,
		"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
		"-chardev", "socket,id=s0,path="+p("printer.sock"), "-chardev", "socket,id=s1,path="+p("scanner.sock"),
		"-chardev", "socket,id=s2,path="+p("display.sock"), "-chardev", "null,id=s3",
		"-device", "pci-serial-4x,chardev1=s0,chardev2=s1,chardev3=s2,chardev4=s3",
		"-device", "virtio-keyboard-pci", "-device", "virtio-rng-pci", "-device", "i6300esb", "-watchdog-action", "reset",
		"-qmp", "unix:"+p("qmp.sock")+",server=on,wait=off")
	c := exec.Command("qemu-system-aarch64", args...)
	out, err := c.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	c.Stderr = c.Stdout
	if r.con == nil {
		// The console is kept after the test, for reading where a boot's time went.
		log := filepath.Join(r.root, ".cache", "vmtest", "console.log")
		os.MkdirAll(filepath.Dir(log), 0o755)
		r.con = newConsole(r.top, log)
		r.t.Logf("console: %s", log)
	}
	r.booted = r.con.mark()
	start := time.Now()
	if err := c.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.qemu, r.done = c, make(chan error, 1)
	go func() { r.con.feed(out); r.done <- c.Wait() }()
	r.t.Cleanup(func() { r.kill() })
	q, err := dialQMP(p("qmp.sock"), 10*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	r.qmp = q
	return start
}

// kill ends qemu at once, as a power cut would.
func (r *box) kill() {
	if r.qemu == nil {
		return
	}
	r.qemu.Process.Kill()
	<-r.done
	r.qemu, r.qmp = nil, nil
}

// waitOff waits for the guest to end qemu (a reboot with -no-reboot).
func (r *box) waitOff(limit time.Duration) {
	r.t.Helper()
	select {
	case <-r.done:
		r.qemu, r.qmp = nil, nil
	case <-time.After(limit):
		r.t.Fatalf("qemu still running after %s\n%s", limit, r.con.tail(30))
	}
}

// keys types qcodes on the virtio keyboard, one at a time.
func (r *box) keys(codes ...string) {
	r.t.Helper()
	for _, k := range codes {
		if err := r.qmp.sendKey(k); err != nil {
			r.t.Fatalf("send-key %s: %v", k, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

func digits(s string) []string { return strings.Split(s, "") }

func (r *box) scanCode(code string) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.scanMu.Lock()
		s := r.scan
		r.scanMu.Unlock()
		if s != nil && s.Scan(code) == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatal("scanner port never connected")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// event is a till event line from the console.
type event map[string]any

func (e event) s(k string) string { v, _ := e[k].(string); return v }

// console collects qemu's serial console, one line at a time.
type console struct {
	t     *testing.T
	f     *os.File
	mu    sync.Mutex
	lines []string
	at    []time.Time // when each line arrived
	start time.Time   // the file's lines carry seconds since then
	more  chan struct{}
}

func newConsole(t *testing.T, path string) *console {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &console{t: t, f: f, more: make(chan struct{}), start: time.Now()}
}

func (c *console) feed(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		c.mu.Lock()
		c.lines = append(c.lines, line)
		c.at = append(c.at, time.Now())
		c.f.WriteString(fmt.Sprintf("%9.3f %s\n", time.Since(c.start).Seconds(), line))
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
	}
}

// mark is a position in the console; waits look at lines after it.
func (c *console) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// wait returns the first line after from that match accepts, and the position after it.
func (c *console) wait(from int, limit time.Duration, what string, match func(string) bool) (string, int) {
	c.t.Helper()
	deadline := time.After(limit)
	for i := from; ; {
		c.mu.Lock()
		for ; i < len(c.lines); i++ {
			if match(c.lines[i]) {
				l := c.lines[i]
				c.mu.Unlock()
				return l, i + 1
			}
		}
		more := c.more
		c.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			c.t.Fatalf("console: no %s within %s; last lines:\n%s", what, limit, c.tail(40))
		}
	}
}

// waitText waits for a line containing s.
func (c *console) waitText(from int, limit time.Duration, s string) (string, int) {
	c.t.Helper()
	return c.wait(from, limit, fmt.Sprintf("%q", s), func(l string) bool { return strings.Contains(l, s) })
}

// waitAny waits for a line containing one of texts and returns which one and the position
// after it.
func (c *console) waitAny(from int, limit time.Duration, texts ...string) (string, int) {
	c.t.Helper()
	var found string
	_, n := c.wait(from, limit, fmt.Sprintf("any of %q", texts), func(l string) bool {
		for _, s := range texts {
			if strings.Contains(l, s) {
				found = s
				return true
			}
		}
		return false
	})
	return found, n
}

// waitEvent waits for a till event of kind t for which ok (may be nil) holds.
func (c *console) waitEvent(from int, limit time.Duration, t string, ok func(event) bool) (event, int) {
	c.t.Helper()
	var ev event
	_, n := c.wait(from, limit, "event "+t, func(l string) bool {
		j, found := strings.CutPrefix(l, "tillbox-event: ")
		if !found {
			return false
		}
		var e event
		if json.Unmarshal([]byte(j), &e) != nil || e.s("t") != t || (ok != nil && !ok(e)) {
			return false
		}
		ev = e
		return true
	})
	return ev, n
}

// phases splits the boot that qemu started at started (console lines from..end, end's
// line the init's READY) by the guest's own clock: the kernel's uptime when the init
// printed its first line ("kernel up X s") and at READY ("uptime=Y s"). The firmware and
// boot loader are what remains of the host's time from qemu's start; loader is the part
// of it after GRUB's "booting slot" line (loading the kernel and initrd).
func (c *console) phases(from, end int, started time.Time) (firmware, loader, kernel, init time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if end < 1 || end > len(c.lines) {
		return
	}
	var grub time.Time
	var up0, up1 float64
	for n := from; n < end; n++ {
		l := c.lines[n]
		if strings.Contains(l, "tillbox: booting slot") {
			grub = c.at[n]
		}
		if i := strings.Index(l, "kernel up "); i >= 0 && strings.HasPrefix(l, "tillbox-init: tillbox ") {
			fmt.Sscanf(l[i:], "kernel up %fs", &up0)
		}
	}
	if i := strings.Index(c.lines[end-1], "uptime="); i >= 0 {
		fmt.Sscanf(c.lines[end-1][i:], "uptime=%fs", &up1)
	}
	if grub.IsZero() || up0 == 0 || up1 == 0 {
		return
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	kstart := c.at[end-1].Add(-sec(up1))
	return grub.Sub(started), kstart.Sub(grub), sec(up0), sec(up1 - up0), true
}

// lastBefore is the last line in from..end that contains s, and its position.
func (c *console) lastBefore(from, end int, s string) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := min(end, len(c.lines)) - 1; n >= from; n-- {
		if strings.Contains(c.lines[n], s) {
			return c.lines[n], n
		}
	}
	return "", -1
}

func (c *console) tail(n int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// qmp is a QMP connection to qemu.
type qmp struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialQMP(path string, limit time.Duration) (*qmp, error) {
	deadline := time.Now().Add(limit)
	var c net.Conn
	var err error
	for {
		if c, err = net.Dial("unix", path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("qmp: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	q := &qmp{c: c, rd: bufio.NewReader(c)}
	if _, err := q.rd.ReadString('\n'); err != nil { // greeting
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if err := q.do(`{"execute":"qmp_capabilities"}`); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *qmp) do(cmd string) error {
	q.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := q.c.Write([]byte(cmd + "\n")); err != nil {
		return err
	}
	for {
		line, err := q.rd.ReadString('\n')
		if err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if e, ok := m["error"]; ok {
			return errors.New(string(e))
		}
		if _, ok := m["return"]; ok {
			return nil
		}
	}
}

func (q *qmp) sendKey(code string) error {
	return q.do(fmt.Sprintf(`{"execute":"send-key","arguments":{"keys":[{"type":"qcode","data":%q}]}}`, code))
}

// readyLimit bounds the wait for READY from qemu's start (firmware and GRUB included: on a
// loaded machine they alone have taken a minute).
const readyLimit = 240 * time.Second
