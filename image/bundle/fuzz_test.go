package bundle

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// signedHeader is a bundle's header and manifest mb, signed with key: what Open reads.
func signedHeader(key ed25519.PrivateKey, mb []byte) []byte {
	b := append([]byte(Magic), binary.BigEndian.AppendUint32(nil, uint32(len(mb)))...)
	b = append(b, ed25519.Sign(key, append([]byte(sigContext), mb...))...)
	return append(b, mb...)
}

// FuzzManifest feeds Open manifests signed with a trusted key, so that every byte reaches
// the manifest's parser: it refuses with ErrFormat or ErrVersion, or returns a manifest
// that, encoded and signed again, opens to the same manifest.
func FuzzManifest(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	trusted := []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	m := Manifest{Format: FormatVersion, Board: "rpi4", Version: "1.5.0+g3e652c6", MinVersion: "v1.4",
		Created: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), KeyID: KeyID(trusted[0]),
		Rootfs: Part{Size: 64 << 20, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}
	mb, err := json.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mb)
	f.Add([]byte(`{"format":1,"board":"qemu-virt","version":"1","created":"2026-03-01T13:00:00+01:00","key_id":"","rootfs":{"size":1,"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}`))
	f.Add(append(bytes.Clone(mb), " {}"...))
	f.Add([]byte(`{"format":2}`))
	f.Add([]byte(`{"format":1,"version":"1..2"}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, mb []byte) {
		if len(mb) > MaxManifest+1 {
			return
		}
		b, err := Open(bytes.NewReader(signedHeader(key, mb)), trusted)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrVersion", err)
			}
			return
		}
		if !json.Valid(mb) {
			t.Fatalf("opened a manifest that is not one JSON value: %q", mb)
		}
		m := b.Manifest
		if m.Format != FormatVersion || m.Rootfs.Size <= 0 || len(m.Rootfs.SHA256) != 64 {
			t.Fatalf("opened a manifest that does not hold: %+v", m)
		}
		if _, err := ParseVersion(m.Version); err != nil {
			t.Fatalf("opened a manifest with version %q: %v", m.Version, err)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("encode the opened manifest: %v", err)
		}
		b2, err := Open(bytes.NewReader(signedHeader(key, again)), trusted)
		if err != nil {
			t.Fatalf("re-encoded manifest refused: %v\n%s", err, again)
		}
		twice, err := json.Marshal(b2.Manifest)
		if err != nil || !bytes.Equal(again, twice) || !b2.Manifest.Created.Equal(m.Created) {
			t.Fatalf("manifest changed on re-encoding:\nfirst %s\nagain %s (%v)", again, twice, err)
		}
	})
}
