//go:build linux

package main

import (
	"slices"
	"testing"
)

func TestGateLines(t *testing.T) {
	env := []string{"PATH=/bin", "TILLBOX_FAULT_UPDATE=write", "BAD=two\nlines", "NOEQUALS", startGateEnv + "=4", "EMPTY="}
	got := gateLines(env, "/data/tillbox")
	want := "env PATH=/bin\nenv TILLBOX_FAULT_UPDATE=write\nenv EMPTY=\ndir /data/tillbox\ngo\n"
	if got != want {
		t.Fatalf("gateLines:\n%q\nwant\n%q", got, want)
	}
}

func TestSplitModulesAfterTheSlotsFilesystem(t *testing.T) {
	for _, tc := range []struct {
		in, first, rest []string
	}{
		{[]string{"virtio_blk", "squashfs", "ext4"}, []string{"virtio_blk", "squashfs"}, []string{"ext4"}},
		{[]string{"virtio_blk", "squashfs"}, []string{"virtio_blk", "squashfs"}, nil},
		{[]string{"virtio_blk", "ext4"}, []string{"virtio_blk", "ext4"}, nil},
		{nil, nil, nil},
	} {
		first, rest := splitAfter(tc.in, "squashfs")
		if !slices.Equal(first, tc.first) || !slices.Equal(rest, tc.rest) {
			t.Errorf("splitAfter(%q) = %q, %q; want %q, %q", tc.in, first, rest, tc.first, tc.rest)
		}
	}
}
