package drivers_test

import (
	"sync/atomic"
	"testing"
	"time"

	"tillbox/drivers"
)

func TestPollCallsUntilStopped(t *testing.T) {
	stop := make(chan struct{})
	returned := make(chan struct{})
	var calls atomic.Int64
	go func() {
		drivers.Poll(time.Millisecond, stop, func() { calls.Add(1) })
		close(returned)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls in 10 s at a 1 ms interval", calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Poll did not return after stop closed")
	}
	n := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if got := calls.Load(); got != n {
		t.Fatalf("%d calls after Poll returned", got-n)
	}
}
