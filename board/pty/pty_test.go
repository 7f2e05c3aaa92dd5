package pty

import (
	"bytes"
	"io"
	"testing"
	"time"

	"go.bug.st/serial"
)

func TestSerialOpensSlaveAndBytesPassUnchanged(t *testing.T) {
	p, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	port, err := serial.Open(p.SlavePath, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatalf("serial open %s: %v", p.SlavePath, err)
	}
	t.Cleanup(func() { port.Close() })
	want := []byte{0x1b, '@', '\r', '\n', 0x10, 0x04, 0x01, 0xff}
	if _, err := port.Write(want); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(p.Master, got); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timed out reading the master")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("master read % x, want % x", got, want)
	}
}
