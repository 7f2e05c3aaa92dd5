// Package uplinktest starts the real processes the uplink's integration and fault tests
// run against, each on an ephemeral loopback port in a temporary directory and stopped by
// t.Cleanup: Mosquitto (killed and restarted at will, with or without persistence),
// PostgreSQL (initdb in a temp dir, as the postgres user when running as root), a TCP
// proxy that cuts and restores the path, and binaries built from this module. It also
// makes sale entries for the tests and the benchmark.
//
// It is for tests only; the firmware's tests may use it too.
package uplinktest
