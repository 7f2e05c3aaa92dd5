package drivers

import "time"

// Poll calls f every interval until stop is closed, and returns then; a call in progress
// when stop closes finishes first. It is the status poll of the printer and the drawer's
// sensor.
func Poll(interval time.Duration, stop <-chan struct{}, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f()
		}
	}
}
