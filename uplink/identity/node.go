package identity

import (
	"crypto/x509"
	"fmt"
	"net"
	"time"
)

// IssueClusterNode makes a key and a certificate for a node of a clustered broker (a
// NATS server of scripts/nats/tillbox.conf), valid for hosts (DNS names or IP
// addresses): a server's certificate for the tills and HQ that connect to it, and also a
// client's, because the nodes verify each other's certificate on the routes between them
// and each node dials the others with this one.
func (c *CA) IssueClusterNode(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			dns = append(dns, h)
		}
	}
	if len(dns)+len(ips) == 0 {
		return nil, nil, fmt.Errorf("identity: cluster node: %w: no host name", ErrRefused)
	}
	return c.issueWithKey(hosts[0], now, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, dns, ips)
}
