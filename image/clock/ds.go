package clock

import (
	"errors"
	"fmt"
	"time"
)

// DSRegisters is the size of the time block of a DS3231 or DS1307, registers 0x00-0x06:
// seconds, minutes, hours, day of week, date, month, year, in BCD.
const DSRegisters = 7

// ErrHalted reports a DS1307 whose oscillator is stopped (CH bit): its time is not kept.
var ErrHalted = errors.New("clock: rtc oscillator halted")

func bcd(b byte, mask byte, lo, hi int, what string) (int, error) {
	b &= mask
	if b>>4 > 9 || b&0x0f > 9 {
		return 0, fmt.Errorf("clock: rtc %s register %#02x: not BCD", what, b)
	}
	v := int(b>>4)*10 + int(b&0x0f)
	if v < lo || v > hi {
		return 0, fmt.Errorf("clock: rtc %s %d: out of range %d-%d", what, v, lo, hi)
	}
	return v, nil
}

func toBCD(v int) byte { return byte(v/10)<<4 | byte(v%10) }

// DecodeDS decodes the time block of a DS3231 or DS1307 as UTC (the box keeps its RTC in
// UTC). Years are 2000-2099, or 2100-2199 with the DS3231's century bit (month bit 7).
func DecodeDS(r [DSRegisters]byte) (time.Time, error) {
	if r[0]&0x80 != 0 {
		return time.Time{}, ErrHalted
	}
	sec, err := bcd(r[0], 0x7f, 0, 59, "seconds")
	if err != nil {
		return time.Time{}, err
	}
	min, err := bcd(r[1], 0x7f, 0, 59, "minutes")
	if err != nil {
		return time.Time{}, err
	}
	var hour int
	if r[2]&0x40 != 0 { // 12-hour mode: bit 5 is PM
		h, err := bcd(r[2], 0x1f, 1, 12, "hours")
		if err != nil {
			return time.Time{}, err
		}
		hour = h % 12
		if r[2]&0x20 != 0 {
			hour += 12
		}
	} else if hour, err = bcd(r[2], 0x3f, 0, 23, "hours"); err != nil {
		return time.Time{}, err
	}
	day, err := bcd(r[4], 0x3f, 1, 31, "date")
	if err != nil {
		return time.Time{}, err
	}
	month, err := bcd(r[5], 0x1f, 1, 12, "month")
	if err != nil {
		return time.Time{}, err
	}
	year, err := bcd(r[6], 0xff, 0, 99, "year")
	if err != nil {
		return time.Time{}, err
	}
	year += 2000
	if r[5]&0x80 != 0 {
		year += 100
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("clock: rtc date %04d-%02d-%02d does not exist", year, month, day)
	}
	return t, nil
}

// EncodeDS encodes t (in UTC, 24-hour mode, oscillator running) for a DS3231 or DS1307.
func EncodeDS(t time.Time) ([DSRegisters]byte, error) {
	t = t.UTC()
	if t.Year() < 2000 || t.Year() > 2199 {
		return [DSRegisters]byte{}, fmt.Errorf("clock: rtc cannot hold year %d", t.Year())
	}
	var r [DSRegisters]byte
	r[0] = toBCD(t.Second())
	r[1] = toBCD(t.Minute())
	r[2] = toBCD(t.Hour())
	r[3] = byte(t.Weekday()) + 1 // 1-7, Sunday 1
	r[4] = toBCD(t.Day())
	r[5] = toBCD(int(t.Month()))
	y := t.Year() - 2000
	if y >= 100 {
		r[5] |= 0x80
		y -= 100
	}
	r[6] = toBCD(y)
	return r, nil
}
