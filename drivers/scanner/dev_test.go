package scanner_test

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.bug.st/serial"

	"tillbox/board/pty"
	"tillbox/drivers"
	"tillbox/drivers/evdev"
	"tillbox/drivers/scanner"
	"tillbox/drivers/scanner/scannertest"
)

// guard bounds every wait so that a broken driver fails the test instead of hanging it;
// no test asserts how long anything takes.
const guard = 10 * time.Second

func newDev(t *testing.T, port io.Reader, o *scanner.Opts) *scanner.Dev {
	t.Helper()
	d, err := scanner.New(port, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Halt() })
	expectState(t, d, drivers.Online)
	return d
}

func next(t *testing.T, d *scanner.Dev) scanner.Event {
	t.Helper()
	select {
	case ev, ok := <-d.Events():
		if !ok {
			t.Fatal("events channel closed")
		}
		return ev
	case <-time.After(guard):
		t.Fatalf("no event within %v", guard)
	}
	panic("unreachable")
}

func nextScan(t *testing.T, d *scanner.Dev) scanner.Scan {
	t.Helper()
	ev := next(t, d)
	if ev.Kind != scanner.EventScan {
		t.Fatalf("got status event %+v, want a scan", ev.Status)
	}
	return ev.Scan
}

func expectGood(t *testing.T, d *scanner.Dev, code string) scanner.Scan {
	t.Helper()
	s := nextScan(t, d)
	if !s.Good() || s.Code != code {
		t.Fatalf("got %v, want good scan of %s", s, code)
	}
	return s
}

func expectReject(t *testing.T, d *scanner.Dev, r scanner.Reason) scanner.Scan {
	t.Helper()
	s := nextScan(t, d)
	if s.Reason != r {
		t.Fatalf("got %v, want rejection %q", s, r)
	}
	return s
}

func expectState(t *testing.T, d *scanner.Dev, st drivers.State) scanner.Status {
	t.Helper()
	ev := next(t, d)
	if ev.Kind != scanner.EventStatus || ev.Status.State != st {
		t.Fatalf("got event %+v, want status %v", ev, st)
	}
	return ev.Status
}

func pipe(t *testing.T, suffix scanner.Suffix) (*scannertest.Serial, io.ReadCloser) {
	t.Helper()
	fake, port := scannertest.Pipe(suffix)
	t.Cleanup(func() { port.Close() })
	return fake, port
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var codes = []string{"5901234123457", "4006381333931", "96385074", "036000291452", "TILL-42/a"}

func TestSerialGoodScansForEachSuffix(t *testing.T) {
	for _, suffix := range []scanner.Suffix{scanner.SuffixCR, scanner.SuffixLF, scanner.SuffixCRLF, scanner.SuffixTab, scanner.SuffixNone} {
		t.Run(suffix.String(), func(t *testing.T) {
			fake, port := pipe(t, suffix)
			d := newDev(t, port, &scanner.Opts{Suffix: suffix, InterCharTimeout: 20 * time.Millisecond})
			for _, c := range codes {
				must(t, fake.Scan(c))
				// With no suffix only a pause ends a code: wait for it before the next.
				expectGood(t, d, c)
			}
			if st := d.Status(); st.Scans != uint64(len(codes)) || st.Rejects != 0 {
				t.Fatalf("status %+v after %d good scans", st, len(codes))
			}
		})
	}
}

func TestSerialGarbageIsRejectedAndTheNextCodeRead(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, nil)
	must(t, fake.Garbage([]byte("\x00\xff\xfe\x1b[0m\r")))
	expectReject(t, d, scanner.ReasonNoise)
	must(t, fake.Scan("5901234123458")) // one digit misread
	expectReject(t, d, scanner.ReasonCheckDigit)
	must(t, fake.Scan("590123412"))
	expectReject(t, d, scanner.ReasonLength)
	must(t, fake.Scan(codes[0]))
	expectGood(t, d, codes[0])
}

// Noise glued to a code costs that code (the cashier scans again); it never turns the
// code into another one.
func TestSerialNoiseGluedToACodeRejectsIt(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, nil)
	must(t, fake.Garbage([]byte{0x00, 0x80}))
	must(t, fake.Scan(codes[0]))
	expectReject(t, d, scanner.ReasonNoise)
	must(t, fake.Scan(codes[1]))
	expectGood(t, d, codes[1])
}

// Random line noise between codes: every good scan must be one of the codes sent, and
// every code sent after a line end must be read. Without AIM identifiers printable noise
// can only be refused by not accepting Code128 (see the package doc); with them, noise
// would have to forge "]C0".
func TestSerialRandomNoiseBetweenCodesNeverMakesAnItem(t *testing.T) {
	tests := []struct {
		name   string
		opts   scanner.Opts
		prefix func(code string) string
		codes  []string
	}{
		{"EAN/UPC only", scanner.Opts{Accept: scanner.Set(scanner.EAN13, scanner.EAN8, scanner.UPCA)},
			func(c string) string { return c }, codes[:4]},
		{"AIM identifiers, Code128 on", scanner.Opts{AIM: true},
			func(c string) string {
				switch len(c) {
				case 13:
					return "]E0" + c
				case 8:
					return "]E4" + c
				case 12:
					return "]E00" + c
				}
				return "]C0" + c
			}, codes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, port := pipe(t, scanner.SuffixCR)
			tt.opts.EventBuffer = 4096
			d := newDev(t, port, &tt.opts)
			rng := rand.New(rand.NewPCG(1, 2))
			var sent []string
			for i := 0; i < 200; i++ {
				must(t, fake.Noise(rng, 1+rng.IntN(40)))
				must(t, fake.Garbage([]byte{'\r'}))
				c := tt.codes[rng.IntN(len(tt.codes))]
				sent = append(sent, c)
				must(t, fake.Scan(tt.prefix(c)))
			}
			must(t, fake.Scan(tt.prefix("96385074")))
			must(t, fake.Scan(tt.prefix("96385074")))
			var good []string
			for {
				s := nextScan(t, d)
				if !s.Good() {
					continue
				}
				good = append(good, s.Code)
				if n := len(good); n >= 2 && good[n-1] == "96385074" && good[n-2] == "96385074" && n-2 >= len(sent) {
					good = good[:n-2]
					break
				}
			}
			for i := range good {
				if strings.HasPrefix(good[i], "0") && len(good[i]) == 13 && tt.opts.AIM {
					good[i] = good[i][1:] // UPC-A sent as ]E0 + 13 digits
				}
			}
			if !slices.Equal(good, sent) {
				t.Fatalf("good scans %q\nwant codes sent %q", good, sent)
			}
		})
	}
}

func TestSerialPartialReadIsRejectedThenTheRescanRead(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, &scanner.Opts{PartialTimeout: 20 * time.Millisecond})
	must(t, fake.Cut(codes[0], 7))
	s := expectReject(t, d, scanner.ReasonPartial)
	if string(s.Raw) != codes[0][:7] {
		t.Fatalf("partial raw %q, want %q", s.Raw, codes[0][:7])
	}
	must(t, fake.Scan(codes[0]))
	expectGood(t, d, codes[0])
}

func TestSerialOversizeLineIsRejectedAndItsTailNotParsed(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, &scanner.Opts{MaxLine: 32})
	// The tail after 32 bytes is itself a valid EAN-13: it must not come out as a scan.
	long := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" + codes[0]
	must(t, fake.Scan(long))
	must(t, fake.Scan(codes[1]))
	expectReject(t, d, scanner.ReasonOversize)
	expectGood(t, d, codes[1])
}

func TestSerialSuffixNoneTwoCodesInOneBurstAreOneBadLine(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixNone)
	d := newDev(t, port, &scanner.Opts{Suffix: scanner.SuffixNone, InterCharTimeout: 20 * time.Millisecond})
	must(t, fake.Garbage([]byte(codes[0]+codes[1])))
	expectReject(t, d, scanner.ReasonLength)
}

func TestSerialPortVanishesThenIsReattached(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, nil)
	must(t, fake.Scan(codes[0]))
	expectGood(t, d, codes[0])
	must(t, fake.Cut(codes[1], 5))
	must(t, fake.Close())
	expectReject(t, d, scanner.ReasonPartial)
	st := expectState(t, d, drivers.Offline)
	if !errors.Is(st.Err, io.EOF) {
		t.Fatalf("offline error %v, want io.EOF", st.Err)
	}
	if err := d.Reattach(port); !errors.Is(err, scanner.ErrNilPort) && err == nil {
		// Reattaching a dead port is allowed; it will go offline again at once.
		expectState(t, d, drivers.Online)
		expectState(t, d, drivers.Offline)
	}
	fake2, port2 := pipe(t, scanner.SuffixCR)
	must(t, d.Reattach(port2))
	expectState(t, d, drivers.Online)
	if err := d.Reattach(port2); !errors.Is(err, scanner.ErrAttached) {
		t.Fatalf("second Reattach: %v, want ErrAttached", err)
	}
	must(t, fake2.Scan(codes[2]))
	s := expectGood(t, d, codes[2])
	_ = s
	if st := d.Status(); st.Scans != 2 || st.Rejects != 1 || st.State != drivers.Online {
		t.Fatalf("status after reattach %+v", st)
	}
}

// A reader that returns (0, nil), as a serial port with a read timeout does between
// bytes, is neither an error nor a scan.
func TestSerialEmptyReadsAreNotErrors(t *testing.T) {
	port := &emptyThen{n: 20, rest: []byte(codes[0] + "\r")}
	d := newDev(t, port, nil)
	expectGood(t, d, codes[0])
	expectState(t, d, drivers.Offline)
	if port.calls < 20 {
		t.Fatalf("reader called %d times", port.calls)
	}
}

type emptyThen struct {
	n, calls int
	rest     []byte
}

func (e *emptyThen) Read(p []byte) (int, error) {
	e.calls++
	if e.calls <= e.n {
		return 0, nil
	}
	if len(e.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, e.rest)
	e.rest = e.rest[n:]
	return n, nil
}

func TestHaltClosesEventsAndRefusesReattach(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d := newDev(t, port, nil)
	must(t, fake.Scan(codes[0]))
	expectGood(t, d, codes[0])
	must(t, d.Halt())
	must(t, d.Halt())
	st := expectState(t, d, drivers.Halted)
	if st.Scans != 1 {
		t.Fatalf("halted status %+v", st)
	}
	if _, ok := <-d.Events(); ok {
		t.Fatal("event after Halt")
	}
	if err := d.Reattach(port); !errors.Is(err, scanner.ErrHalted) {
		t.Fatalf("Reattach after Halt: %v, want ErrHalted", err)
	}
}

func TestFullEventChannelDropsAndCounts(t *testing.T) {
	fake, port := pipe(t, scanner.SuffixCR)
	d, err := scanner.New(port, &scanner.Opts{EventBuffer: 2})
	must(t, err)
	t.Cleanup(func() { d.Halt() })
	for i := 0; i < 5; i++ {
		must(t, fake.Scan(codes[0]))
	}
	deadline := time.Now().Add(guard)
	for d.Status().Scans < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("status %+v: scans not all made", d.Status())
		}
		time.Sleep(time.Millisecond)
	}
	// Online status and the first scan fill the buffer; the other four are dropped.
	if st := d.Status(); st.Dropped != 4 {
		t.Fatalf("status %+v, want 4 dropped", st)
	}
}

func TestNewRejectsBadOptsAndNilPort(t *testing.T) {
	if _, err := scanner.New(nil, nil); !errors.Is(err, scanner.ErrNilPort) {
		t.Fatalf("nil port: %v", err)
	}
	_, err := scanner.New(os.Stdin, &scanner.Opts{InStore: []scanner.InStoreLayout{{From: 20, To: 29, Kind: scanner.Price, Item: 6, Value: 6}}})
	if !errors.Is(err, scanner.ErrInvalidOpts) {
		t.Fatalf("bad layout: %v, want ErrInvalidOpts", err)
	}
}

func TestWedgeScansInBothEventLayouts(t *testing.T) {
	for _, l := range []evdev.Layout{evdev.Layout32, evdev.Layout64} {
		t.Run(l.String(), func(t *testing.T) {
			fake, port := scannertest.WedgePipe(l, scanner.SuffixCR)
			t.Cleanup(func() { port.Close() })
			d, err := scanner.NewWedge(port, &scanner.Opts{Layout: l, PartialTimeout: 20 * time.Millisecond})
			must(t, err)
			t.Cleanup(func() { d.Halt() })
			expectState(t, d, drivers.Online)

			for _, c := range append(codes, "Mixed-Case_{x}", "01095011015300\x1d10AB") {
				must(t, fake.Scan(c))
				expectGood(t, d, c)
			}
			price := "211234501299"
			c, _ := scanner.CheckDigit(price)
			price += string(c)
			must(t, fake.Scan(price))
			if s := expectGood(t, d, price); s.InStore == nil || s.InStore.Value != 1299 || s.InStore.Item != "12345" {
				t.Fatalf("in-store scan %+v", s.InStore)
			}
			// F5 in the middle of a code: the code is noise, not a shorter code.
			must(t, fake.Cut(codes[0], 6))
			must(t, fake.Keys(evdev.KeyF5))
			must(t, fake.Scan(codes[0][6:]))
			expectReject(t, d, scanner.ReasonNoise)
			must(t, fake.Cut(codes[1], 4))
			must(t, fake.Dropped())
			must(t, fake.Scan(codes[1][4:]))
			expectReject(t, d, scanner.ReasonNoise)
			must(t, fake.Cut(codes[1], 4))
			expectReject(t, d, scanner.ReasonPartial)
			must(t, fake.Scan(codes[1]))
			expectGood(t, d, codes[1])
			// Unplugged mid-record.
			must(t, fake.Bytes(make([]byte, int(l)/2)))
			must(t, fake.Close())
			st := expectState(t, d, drivers.Offline)
			if !errors.Is(st.Err, evdev.ErrShortEvent) {
				t.Fatalf("offline error %v, want ErrShortEvent", st.Err)
			}
		})
	}
}

// A 64-bit stream read as 32-bit records (a wrong Layout) must not produce a code.
func TestWedgeWrongLayoutYieldsNoGoodScan(t *testing.T) {
	fake, port := scannertest.WedgePipe(evdev.Layout64, scanner.SuffixCR)
	t.Cleanup(func() { port.Close() })
	d, err := scanner.NewWedge(port, &scanner.Opts{Layout: evdev.Layout32})
	must(t, err)
	t.Cleanup(func() { d.Halt() })
	expectState(t, d, drivers.Online)
	go func() {
		fake.Scan(codes[0])
		fake.Close()
	}()
	for {
		ev := next(t, d)
		if ev.Kind == scanner.EventScan && ev.Scan.Good() {
			t.Fatalf("good scan %v from misread records", ev.Scan)
		}
		if ev.Kind == scanner.EventStatus && ev.Status.State == drivers.Offline {
			return
		}
	}
}

// The scanner on a real tty: the driver reads the slave through go.bug.st/serial at a set
// baud, the fake writes the master.
func TestSerialOverPty(t *testing.T) {
	p, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	port, err := serial.Open(p.SlavePath, &serial.Mode{BaudRate: 9600})
	must(t, err)
	t.Cleanup(func() { port.Close() })
	fake := scannertest.NewSerial(p.Master, scanner.SuffixCRLF)
	d := newDev(t, port, &scanner.Opts{Suffix: scanner.SuffixCRLF, PartialTimeout: 50 * time.Millisecond})

	for _, c := range codes {
		must(t, fake.Scan(c))
		expectGood(t, d, c)
	}
	must(t, fake.Garbage([]byte{0xff, 0x00, 0x7f, '\r', '\n'}))
	expectReject(t, d, scanner.ReasonNoise)
	must(t, fake.Cut(codes[0], 9))
	expectReject(t, d, scanner.ReasonPartial)
	must(t, fake.Scan(codes[3]))
	expectGood(t, d, codes[3])
	// Line noise (a scanner booting, a wrong baud rate) between two codes, ended by a line
	// end: rejected, and the code after it read.
	must(t, fake.Garbage([]byte{0x80, 0xfc, 0x00, 0xe6, 0x98, '\r'}))
	expectReject(t, d, scanner.ReasonNoise)
	must(t, fake.Scan(codes[4]))
	expectGood(t, d, codes[4])

	must(t, fake.Close())
	st := expectState(t, d, drivers.Offline)
	if st.Err == nil {
		t.Fatal("offline without a cause")
	}
	if got := d.Status(); got.State != drivers.Offline || got.Scans != uint64(len(codes)+2) || got.Rejects != 3 {
		t.Fatalf("status after the port vanished: %+v", got)
	}
}

// A port that fails is read once more never: the driver reports it and stops, instead of
// spinning on an error that will not go away (EIO from an unplugged USB adapter).
func TestFailingPortIsNotReadAgain(t *testing.T) {
	port := &failing{}
	d := newDev(t, port, nil)
	st := expectState(t, d, drivers.Offline)
	if !errors.Is(st.Err, errUnplugged) {
		t.Fatalf("offline cause %v", st.Err)
	}
	must(t, d.Halt())
	if n := port.calls.Load(); n != 1 {
		t.Fatalf("failed port read %d times", n)
	}
}

var errUnplugged = errors.New("input/output error")

type failing struct{ calls atomic.Int32 }

func (f *failing) Read([]byte) (int, error) {
	f.calls.Add(1)
	return 0, errUnplugged
}
