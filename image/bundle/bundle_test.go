package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
)

func testKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func makeBundle(t *testing.T, key ed25519.PrivateKey, rootfs []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := Create(&b, Manifest{Board: "qemu-virt", Version: "1.2.3"}, bytes.NewReader(rootfs), int64(len(rootfs)), key); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenVerify(t *testing.T) {
	pub, priv := testKey(t)
	other, _ := testKey(t)
	rootfs := bytes.Repeat([]byte("squashfs"), 1000)
	good := makeBundle(t, priv, rootfs)

	b, err := Open(bytes.NewReader(good), []ed25519.PublicKey{other, pub})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Board != "qemu-virt" || b.Manifest.Version != "1.2.3" || b.Manifest.KeyID != KeyID(pub) {
		t.Fatalf("manifest %+v", b.Manifest)
	}
	if off := len(good) - len(rootfs); off%Align != 0 {
		t.Fatalf("payload at %d, not aligned", off)
	}

	flip := func(i int) []byte {
		c := bytes.Clone(good)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name    string
		file    []byte
		keys    []ed25519.PublicKey
		openErr error
		verErr  error
	}{
		{"wrong key", good, []ed25519.PublicKey{other}, ErrSignature, nil},
		{"no keys", good, nil, ErrSignature, nil},
		{"manifest byte changed", flip(headerSize + 5), []ed25519.PublicKey{pub}, ErrSignature, nil},
		{"signature byte changed", flip(20), []ed25519.PublicKey{pub}, ErrSignature, nil},
		{"payload byte changed", flip(len(good) - 10), []ed25519.PublicKey{pub}, nil, ErrPayload},
		{"truncated payload", good[:len(good)-1], []ed25519.PublicKey{pub}, nil, ErrPayload},
		{"truncated header", good[:30], []ed25519.PublicKey{pub}, ErrFormat, nil},
		{"not a bundle", []byte("GIF89a and more bytes than a header takes, surely more than 76 of them......."), []ed25519.PublicKey{pub}, ErrFormat, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Open(bytes.NewReader(tc.file), tc.keys)
			if tc.openErr != nil {
				if !errors.Is(err, tc.openErr) {
					t.Fatalf("open: %v, want %v", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Verify(); !errors.Is(err, tc.verErr) {
				t.Fatalf("verify: %v, want %v", err, tc.verErr)
			}
		})
	}
}

func TestKeysAndFileSignature(t *testing.T) {
	pub, priv := testKey(t)
	_, otherPriv := testKey(t)
	keys, err := ParsePublic(MarshalPublic(pub))
	if err != nil || len(keys) != 1 || !keys[0].Equal(pub) {
		t.Fatalf("public round trip: %v %v", keys, err)
	}
	p2, err := ParsePrivate(MarshalPrivate(priv))
	if err != nil || !p2.Equal(priv) {
		t.Fatalf("private round trip: %v", err)
	}
	img := bytes.Repeat([]byte{7}, 100000)
	sig, err := SignFile(bytes.NewReader(img), priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyFile(bytes.NewReader(img), sig, keys); err != nil {
		t.Fatal(err)
	}
	img[5] = 8
	if err := VerifyFile(bytes.NewReader(img), sig, keys); !errors.Is(err, ErrSignature) {
		t.Fatalf("changed file: %v", err)
	}
	sig2, _ := SignFile(bytes.NewReader(img), otherPriv)
	if err := VerifyFile(bytes.NewReader(img), sig2, keys); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0}, {"v1.2.3", "1.2.3+g1234", 0}, {"1.2", "1.2.0", 0},
		{"1.2.3", "1.2.10", -1}, {"1.10.0", "1.9.9", 1}, {"2", "1.99", 1},
	} {
		got, err := CompareVersions(tc.a, tc.b)
		if err != nil || got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", tc.a, tc.b, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "dev", "1..2", "1.x", "b57fcf5"} {
		if _, err := ParseVersion(bad); !errors.Is(err, ErrVersion) {
			t.Errorf("ParseVersion(%q): %v", bad, err)
		}
	}
}
