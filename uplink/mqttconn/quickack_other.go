//go:build !linux

package mqttconn

import (
	"io"
	"net"
)

// quickAcker is nc itself where TCP_QUICKACK does not exist.
func quickAcker(nc net.Conn) io.Reader { return nc }
