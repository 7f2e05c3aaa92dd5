//go:build linux

package mqttconn

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestQuickAckAfterEachRead: a read through quickAcker leaves the socket acknowledging
// at once; a connection that is not TCP is read as it is.
func TestQuickAckAfterEachRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for i := 0; i < 3; i++ {
			c.Write([]byte("pub"))
			c.Read(make([]byte, 1))
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := quickAcker(nc)
	if _, ok := r.(*quickAckReader); !ok {
		t.Fatalf("a TCP connection got %T, want the quick-ack reader", r)
	}
	raw, _ := nc.(*net.TCPConn).SyscallConn()
	quick := func() int {
		var v int
		raw.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK) })
		return v
	}
	for i := 0; i < 3; i++ {
		raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 0) })
		if n, err := r.Read(make([]byte, 3)); err != nil || n == 0 {
			t.Fatalf("read %d: %d, %v", i, n, err)
		}
		if quick() != 1 {
			t.Fatalf("read %d left TCP_QUICKACK off: the broker's next packet may wait for a delayed ack", i)
		}
		nc.Write([]byte{1})
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := quickAcker(a); r != a {
		t.Fatalf("a pipe got %T, want itself", r)
	}
}
