package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Magic opens every bundle.
const Magic = "TILLBOX1"

// Align is the payload's alignment in the file, in bytes.
const Align = 4096

// MaxManifest bounds the manifest's size, so that a hostile length cannot make Open
// allocate much.
const MaxManifest = 64 << 10

// FormatVersion is the Manifest.Format this package writes and reads.
const FormatVersion = 1

const (
	headerSize = 8 + 4 + ed25519.SignatureSize
	sigContext = "tillbox-bundle/1\n"
)

// Manifest says what a bundle is for and what it holds. It is what the signature covers.
type Manifest struct {
	Format int `json:"format"`
	// Board is the board profile the root filesystem is built for ("qemu-virt", "rpi4").
	Board string `json:"board"`
	// Version is the firmware version the bundle installs.
	Version string `json:"version"`
	// MinVersion is the oldest running version that may install it ("" for any): a
	// bundle that needs a data migration an older firmware has not done refuses it.
	MinVersion string    `json:"min_version,omitempty"`
	Created    time.Time `json:"created"`
	// KeyID names the key that signed it (KeyID of its public key).
	KeyID  string `json:"key_id"`
	Rootfs Part   `json:"rootfs"`
}

// Part is one payload: its size in bytes and SHA-256 (lower-case hex).
type Part struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bundle is a bundle whose manifest verified. The payload is not yet checked: see Verify.
type Bundle struct {
	Manifest Manifest
	r        io.ReaderAt
	off      int64
}

// Create writes a bundle of rootfs (size bytes, read twice: once to hash, once to copy)
// to w, filling m's Format, KeyID and Rootfs.
func Create(w io.Writer, m Manifest, rootfs io.ReaderAt, size int64, key ed25519.PrivateKey) (Manifest, error) {
	if _, err := ParseVersion(m.Version); err != nil {
		return m, fmt.Errorf("bundle: create: %w", err)
	}
	if m.MinVersion != "" {
		if _, err := ParseVersion(m.MinVersion); err != nil {
			return m, fmt.Errorf("bundle: create: min version: %w", err)
		}
	}
	if m.Board == "" {
		return m, fmt.Errorf("bundle: create: %w: no board", ErrFormat)
	}
	h := sha256.New()
	if n, err := io.Copy(h, io.NewSectionReader(rootfs, 0, size)); err != nil || n != size {
		return m, fmt.Errorf("bundle: create: hash rootfs: %d of %d bytes: %v", n, size, err)
	}
	m.Format = FormatVersion
	m.KeyID = KeyID(key.Public().(ed25519.PublicKey))
	m.Rootfs = Part{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	mb, err := json.Marshal(m)
	if err != nil {
		return m, fmt.Errorf("bundle: create: %w", err)
	}
	sig := ed25519.Sign(key, append([]byte(sigContext), mb...))
	hdr := make([]byte, 0, payloadOffset(len(mb)))
	hdr = append(hdr, Magic...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(mb)))
	hdr = append(hdr, sig...)
	hdr = append(hdr, mb...)
	hdr = append(hdr, make([]byte, payloadOffset(len(mb))-int64(len(hdr)))...)
	if _, err := w.Write(hdr); err != nil {
		return m, fmt.Errorf("bundle: create: %w", err)
	}
	if _, err := io.Copy(w, io.NewSectionReader(rootfs, 0, size)); err != nil {
		return m, fmt.Errorf("bundle: create: copy rootfs: %w", err)
	}
	return m, nil
}

func payloadOffset(manifestLen int) int64 {
	n := int64(headerSize + manifestLen)
	return (n + Align - 1) / Align * Align
}

// Open reads the header of the bundle in r and verifies the manifest's signature with the
// trusted keys. It reads at most the header and the manifest.
func Open(r io.ReaderAt, trusted []ed25519.PublicKey) (*Bundle, error) {
	hdr := make([]byte, headerSize)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("bundle: open: %w: header: %v", ErrFormat, err)
	}
	if string(hdr[:8]) != Magic {
		return nil, fmt.Errorf("bundle: open: %w: no magic", ErrFormat)
	}
	n := binary.BigEndian.Uint32(hdr[8:12])
	if n == 0 || n > MaxManifest {
		return nil, fmt.Errorf("bundle: open: %w: manifest length %d", ErrFormat, n)
	}
	sig := hdr[12:headerSize]
	mb := make([]byte, n)
	if _, err := r.ReadAt(mb, headerSize); err != nil {
		return nil, fmt.Errorf("bundle: open: %w: manifest: %v", ErrFormat, err)
	}
	msg := append([]byte(sigContext), mb...)
	ok := false
	for _, k := range trusted {
		if ed25519.Verify(k, msg, sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("bundle: open: %w (%d trusted keys)", ErrSignature, len(trusted))
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("bundle: open: %w: manifest: %v", ErrFormat, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("bundle: open: %w: manifest: data after the object", ErrFormat)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("bundle: open: %w: format %d, want %d", ErrFormat, m.Format, FormatVersion)
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return nil, fmt.Errorf("bundle: open: %w", err)
	}
	if m.Rootfs.Size <= 0 || len(m.Rootfs.SHA256) != 64 {
		return nil, fmt.Errorf("bundle: open: %w: rootfs part %+v", ErrFormat, m.Rootfs)
	}
	return &Bundle{Manifest: m, r: r, off: payloadOffset(int(n))}, nil
}

// Payload returns the root filesystem image's bytes as stored, unchecked.
func (b *Bundle) Payload() *io.SectionReader {
	return io.NewSectionReader(b.r, b.off, b.Manifest.Rootfs.Size)
}

// Verify reads the whole payload and checks its size and SHA-256 against the manifest.
func (b *Bundle) Verify() error {
	h := sha256.New()
	n, err := io.Copy(h, b.Payload())
	if err != nil {
		return fmt.Errorf("bundle: verify: read payload: %w", err)
	}
	return b.CheckSum(n, h.Sum(nil))
}

// CheckSum compares n bytes with digest sum against the manifest's rootfs part.
func (b *Bundle) CheckSum(n int64, sum []byte) error {
	if n != b.Manifest.Rootfs.Size {
		return fmt.Errorf("bundle: verify: %w: %d bytes, want %d", ErrPayload, n, b.Manifest.Rootfs.Size)
	}
	if got := hex.EncodeToString(sum); got != b.Manifest.Rootfs.SHA256 {
		return fmt.Errorf("bundle: verify: %w: sha256 %s, want %s", ErrPayload, got, b.Manifest.Rootfs.SHA256)
	}
	return nil
}
