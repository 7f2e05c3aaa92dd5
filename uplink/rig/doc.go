// Package rig is the process rig of the integration, fault and VM tests: it starts the real
// processes those tests run against, each on an ephemeral loopback port in a temporary
// directory and stopped by t.Cleanup: Mosquitto (killed and restarted at will, with or
// without persistence), a NATS cluster (routes, MQTT and a JetStream store per node, from the rig's own
// configuration or a template of the shipped one with TLS and users; each node killed and
// restarted at will), PostgreSQL (initdb in a temp dir, as the postgres user when running
// as root), a TCP proxy that cuts and restores the path, and the tillbox and tillhq binaries
// built from this module. A server whose port, picked free, was taken before it bound it is
// started again on new ports; what killed runs left (a PostgreSQL server and its directory,
// a scratch directory) is reaped once its test process is gone, never what a running test
// uses (reap.go). It also makes realistic sale entries for tests and benchmarks,
// and runs real tills (a ledger's uplink, RunTill) and waits on them (WaitSynced, NextEvent).
//
// It lives beside the link because every one of its users tests something across it: the
// till's uplink and head office (uplink/...), and the image booted under qemu with HQ on the
// host (image/vmtest). It is not a fake: fakes of devices are the drivers' <kind>test
// packages. It is for tests only.
package rig
