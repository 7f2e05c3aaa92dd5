//go:build linux

package clock

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DevRTC is a kernel RTC (/dev/rtc0: qemu's PL031, or any RTC with a kernel driver),
// through RTC_RD_TIME and RTC_SET_TIME, kept in UTC.
type DevRTC string

func (d DevRTC) String() string { return string(d) }

func (d DevRTC) Read() (time.Time, error) {
	f, err := os.Open(string(d))
	if err != nil {
		return time.Time{}, fmt.Errorf("clock: rtc: %w", err)
	}
	defer f.Close()
	t, err := unix.IoctlGetRTCTime(int(f.Fd()))
	if err != nil {
		return time.Time{}, fmt.Errorf("clock: rtc %s: RTC_RD_TIME: %w", d, err)
	}
	return time.Date(int(t.Year)+1900, time.Month(t.Mon+1), int(t.Mday), int(t.Hour), int(t.Min), int(t.Sec), 0, time.UTC), nil
}

func (d DevRTC) Write(t time.Time) error {
	f, err := os.Open(string(d))
	if err != nil {
		return fmt.Errorf("clock: rtc: %w", err)
	}
	defer f.Close()
	t = t.UTC()
	rt := unix.RTCTime{Sec: int32(t.Second()), Min: int32(t.Minute()), Hour: int32(t.Hour()), Mday: int32(t.Day()),
		Mon: int32(t.Month()) - 1, Year: int32(t.Year() - 1900), Wday: int32(t.Weekday()), Yday: int32(t.YearDay() - 1)}
	if err := unix.IoctlSetRTCTime(int(f.Fd()), &rt); err != nil {
		return fmt.Errorf("clock: rtc %s: RTC_SET_TIME: %w", d, err)
	}
	return nil
}

// I2CRTC is a DS3231 or DS1307 at Addr (0x68) on /dev/i2c-Bus, read and written directly
// (I2C_SLAVE, then the register pointer and the time block).
type I2CRTC struct {
	Bus  int
	Addr uint16
}

func (r I2CRTC) String() string { return fmt.Sprintf("i2c-%d:%#02x", r.Bus, r.Addr) }

func (r I2CRTC) open() (*os.File, error) {
	f, err := os.OpenFile(fmt.Sprintf("/dev/i2c-%d", r.Bus), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("clock: rtc: %w", err)
	}
	const i2cSlave = 0x0703
	if err := unix.IoctlSetInt(int(f.Fd()), i2cSlave, int(r.Addr)); err != nil {
		f.Close()
		return nil, fmt.Errorf("clock: rtc %s: I2C_SLAVE: %w", r, err)
	}
	return f, nil
}

func (r I2CRTC) Read() (time.Time, error) {
	f, err := r.open()
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	if _, err := f.Write([]byte{0}); err != nil {
		return time.Time{}, fmt.Errorf("clock: rtc %s: %w", r, err)
	}
	var b [DSRegisters]byte
	if _, err := f.Read(b[:]); err != nil {
		return time.Time{}, fmt.Errorf("clock: rtc %s: %w", r, err)
	}
	return DecodeDS(b)
}

func (r I2CRTC) Write(t time.Time) error {
	b, err := EncodeDS(t)
	if err != nil {
		return err
	}
	f, err := r.open()
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append([]byte{0}, b[:]...)); err != nil {
		return fmt.Errorf("clock: rtc %s: %w", r, err)
	}
	return nil
}

// SetSystem sets the system's wall clock (clock_settime CLOCK_REALTIME).
func SetSystem(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("clock: set: %w", err)
	}
	return nil
}
