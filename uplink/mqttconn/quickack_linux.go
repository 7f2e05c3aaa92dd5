package mqttconn

import (
	"io"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAcker returns a reader of nc that, after each read from a TCP socket, asks the
// kernel to acknowledge what arrives at once (TCP_QUICKACK, which Linux drops again on
// its own, hence after every read) rather than up to 40 ms later. A broker that leaves
// Nagle's algorithm on (Mosquitto's default) holds its next small packet until the last
// one is acknowledged; with delayed acknowledgements that is the 40 ms an ack from HQ
// would otherwise wait before it reaches the till.
func quickAcker(nc net.Conn) io.Reader {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	return &quickAckReader{Conn: nc, raw: raw}
}

type quickAckReader struct {
	net.Conn
	raw syscall.RawConn
}

func (r *quickAckReader) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if n > 0 {
		r.raw.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		})
	}
	return n, err
}
