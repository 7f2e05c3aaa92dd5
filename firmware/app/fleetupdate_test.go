package app

import (
	"testing"
	"time"
)

func TestInWindow(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.Local) }
	for _, c := range []struct {
		w    string
		t    time.Time
		want bool
	}{
		{"", at(12, 0), true},
		{"22:00-05:30", at(23, 10), true},
		{"22:00-05:30", at(3, 0), true},
		{"22:00-05:30", at(5, 30), false},
		{"22:00-05:30", at(12, 0), false},
		{"09:00-17:00", at(9, 0), true},
		{"09:00-17:00", at(17, 0), false},
		{"09:00-17:00", at(8, 59), false},
		{"garbage", at(12, 0), false},
	} {
		if got := inWindow(c.w, c.t); got != c.want {
			t.Errorf("inWindow(%q, %s) = %v, want %v", c.w, c.t.Format("15:04"), got, c.want)
		}
	}
}
