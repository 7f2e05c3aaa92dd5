package clock

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tillbox/image/clock/ntptest"
)

// fakeClock is a system clock that Set moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time        { return c.t }
func (c *fakeClock) Set(t time.Time) error { c.t = t; return nil }
func (c *fakeClock) keeper(store string) *Keeper {
	return &Keeper{Store: store, Now: c.Now, Set: c.Set}
}

// memRTC is a DS-type RTC kept as its registers, so reads and writes go through the
// register coding.
type memRTC struct {
	regs    [DSRegisters]byte
	readErr error
}

func (m *memRTC) String() string { return "mem" }
func (m *memRTC) Read() (time.Time, error) {
	if m.readErr != nil {
		return time.Time{}, m.readErr
	}
	return DecodeDS(m.regs)
}
func (m *memRTC) Write(t time.Time) error {
	r, err := EncodeDS(t)
	m.regs = r
	return err
}

var (
	epoch   = time.Unix(0, 0).UTC()
	trusted = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func TestBootCarriesLastTrustedForward(t *testing.T) {
	store := filepath.Join(t.TempDir(), "time.json")
	c := &fakeClock{t: trusted}
	k := c.keeper(store)
	if err := k.persist(trusted); err != nil {
		t.Fatal(err)
	}
	c.t = epoch // a box without an RTC boots in 1970
	st := k.Boot()
	if st.Source != SourceCarried || st.Trusted || !c.t.Equal(trusted) {
		t.Fatalf("Boot = %+v, clock %v; want carried, untrusted, clock at %v", st, c.t, trusted)
	}
	// A clock already past the last trusted time is left alone, and not trusted either.
	later := trusted.Add(time.Hour)
	c.t = later
	if st := k.Boot(); st.Source != SourceSystem || st.Trusted || !c.t.Equal(later) {
		t.Fatalf("Boot ahead = %+v, clock %v", st, c.t)
	}
}

func TestBootFloorWithoutStore(t *testing.T) {
	c := &fakeClock{t: epoch}
	k := c.keeper(filepath.Join(t.TempDir(), "none.json"))
	k.Floor = trusted
	if st := k.Boot(); st.Source != SourceCarried || !c.t.Equal(trusted) {
		t.Fatalf("Boot = %+v, clock %v; want the floor %v", st, c.t, trusted)
	}
}

func TestBootRTC(t *testing.T) {
	store := filepath.Join(t.TempDir(), "time.json")
	c := &fakeClock{t: epoch}
	k := c.keeper(store)
	k.persist(trusted)
	rtc := &memRTC{}
	k.RTC = rtc
	good := trusted.Add(48 * time.Hour)
	rtc.Write(good)
	if st := k.Boot(); st.Source != SourceRTC || !st.Trusted || !c.t.Equal(good) {
		t.Fatalf("Boot with a good RTC = %+v, clock %v; want rtc at %v", st, c.t, good)
	}
	// An RTC behind the last trusted time (a flat battery) is not believed.
	c.t = epoch
	rtc.Write(trusted.Add(-24 * time.Hour))
	if st := k.Boot(); st.Source != SourceCarried || st.Trusted || !c.t.Equal(trusted) || !strings.Contains(st.Error, "behind") {
		t.Fatalf("Boot with a stale RTC = %+v, clock %v", st, c.t)
	}
	// A halted oscillator: carried forward, and the error said.
	c.t = epoch
	rtc.regs[0] |= 0x80
	if st := k.Boot(); st.Source != SourceCarried || !strings.Contains(st.Error, "halted") {
		t.Fatalf("Boot with a halted RTC = %+v", st)
	}
}

func TestSyncFromNTPServer(t *testing.T) {
	serverTime := trusted.Add(72 * time.Hour)
	srv, err := ntptest.Listen("127.0.0.1:0", func() time.Time { return serverTime })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	store := filepath.Join(t.TempDir(), "time.json")
	c := &fakeClock{t: epoch}
	k := &Keeper{Store: store, Set: c.Set, Servers: []string{"127.0.0.1:1", fmt.Sprintf("127.0.0.1:%d", srv.Port())}}
	var reports []State
	k.Report = func(s State) { reports = append(reports, s) }
	rtc := &memRTC{}
	k.RTC = rtc
	// The real library against the real server: the offset is measured against the host's
	// clock, so the clock set lands near serverTime.
	st, err := k.Sync()
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != SourceNTP || !st.Trusted || st.Server != fmt.Sprintf("127.0.0.1:%d", srv.Port()) {
		t.Fatalf("Sync = %+v", st)
	}
	if d := c.t.Sub(serverTime); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("clock set to %v, server says %v", c.t, serverTime)
	}
	if got := k.LastTrusted(); !got.Equal(c.t.UTC()) {
		t.Fatalf("persisted %v, clock %v", got, c.t)
	}
	if r, _ := rtc.Read(); r.Sub(c.t.Truncate(time.Second)).Abs() > time.Second {
		t.Fatalf("rtc holds %v, clock %v", r, c.t)
	}
	if len(reports) != 1 || srv.Count() != 1 {
		t.Fatalf("%d reports, %d answers; want 1 and 1", len(reports), srv.Count())
	}
}

func TestSyncFailsKeepsState(t *testing.T) {
	c := &fakeClock{t: trusted}
	k := c.keeper(filepath.Join(t.TempDir(), "time.json"))
	k.Query = func(string) (time.Duration, error) { return 0, errors.New("no answer") }
	k.Servers = []string{"a", "b"}
	k.Boot()
	st, err := k.Sync()
	if err == nil || st.Trusted || st.Source != SourceSystem || !strings.Contains(st.Error, "a: no answer") || !strings.Contains(st.Error, "b: no answer") {
		t.Fatalf("Sync = %+v, %v", st, err)
	}
	if !k.LastTrusted().IsZero() {
		t.Fatal("a failed sync persisted a trusted time")
	}
	if _, err := (&Keeper{}).Sync(); err == nil {
		t.Fatal("Sync without servers: no error")
	}
}
