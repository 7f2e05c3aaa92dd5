package ntptest

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"time"
)

// Server answers NTP requests on a UDP socket.
type Server struct {
	Conn *net.UDPConn
	// Now is the time the server reports (default time.Now).
	Now   func() time.Time
	count atomic.Int64
}

// Listen starts a server on addr ("127.0.0.1:0"); Close stops it.
func Listen(addr string, now func() time.Time) (*Server, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return nil, err
	}
	s := &Server{Conn: c, Now: now}
	go s.serve()
	return s, nil
}

// Port is the server's UDP port.
func (s *Server) Port() int { return s.Conn.LocalAddr().(*net.UDPAddr).Port }

// Count is the number of requests answered.
func (s *Server) Count() int64 { return s.count.Load() }

func (s *Server) Close() error { return s.Conn.Close() }

const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970

func stamp(t time.Time) uint64 {
	sec := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return sec<<32 | frac
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) serve() {
	buf := make([]byte, 512)
	for {
		n, peer, err := s.Conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		recv := s.now()
		// Client mode (3), versions 1-4.
		if n < 48 || buf[0]&0x07 != 3 || (buf[0]>>3)&0x07 == 0 || (buf[0]>>3)&0x07 > 4 {
			continue
		}
		var r [48]byte
		r[0] = 0<<6 | (buf[0] & 0x38) | 4                                 // no leap warning, the client's version, server mode
		r[1] = 2                                                          // stratum
		r[2] = buf[2]                                                     // poll
		r[3] = 0xec                                                       // precision: 2^-20 s
		binary.BigEndian.PutUint32(r[4:], 0x00000010)                     // root delay: 1/4096 s
		binary.BigEndian.PutUint32(r[8:], 0x00000010)                     // root dispersion
		copy(r[12:16], []byte{127, 0, 0, 1})                              // reference id: the upstream's address
		binary.BigEndian.PutUint64(r[16:], stamp(recv.Add(-time.Minute))) // reference time
		copy(r[24:32], buf[40:48])                                        // origin: the client's transmit
		binary.BigEndian.PutUint64(r[32:], stamp(recv))
		binary.BigEndian.PutUint64(r[40:], stamp(s.now()))
		if _, err := s.Conn.WriteToUDP(r[:], peer); err == nil {
			s.count.Add(1)
		}
	}
}
