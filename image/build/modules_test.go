package build

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

func signed(body, sig []byte) []byte {
	st := make([]byte, 12) // algo, hash, id_type, signer_len, key_id_len, pad[3], sig_len
	st[2] = 2              // PKEY_ID_PKCS7
	binary.BigEndian.PutUint32(st[8:], uint32(len(sig)))
	return append(append(append(append([]byte(nil), body...), sig...), st...), moduleSigMarker...)
}

func TestModuleSignatureIsStrippedAndNothingElse(t *testing.T) {
	body := append([]byte("\x7fELF"), bytes.Repeat([]byte{0xab}, 1000)...)
	got, err := stripSignature(signed(body, bytes.Repeat([]byte{0x30}, 451)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("stripped module is %d bytes, want the %d of its body", len(got), len(body))
	}
	if got, err := stripSignature(body); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("an unsigned module must stay as it is: %d bytes, %v", len(got), err)
	}
	bad := signed(body, []byte{1, 2, 3})
	binary.BigEndian.PutUint32(bad[len(bad)-len(moduleSigMarker)-4:], uint32(len(bad)))
	if _, err := stripSignature(bad); err == nil {
		t.Fatal("a signature longer than its module was accepted")
	}
}

// On the fetched kernel package (make test-image fetches it): every module the boards load
// is still an ELF object with its .modinfo once stripped.
func TestFetchedModulesStripToELF(t *testing.T) {
	root := filepath.Join("..", "..", ".cache", "image", "kernel", "modules")
	if _, err := os.Stat(root); err != nil {
		t.Skip("no kernel package fetched (scripts/image-fetch.sh)")
	}
	km, err := readModules(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ext4", "virtio_blk", "squashfs", "vfat"} {
		b, err := os.ReadFile(km.files[m])
		if err != nil {
			t.Fatal(err)
		}
		s, err := stripSignature(b)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		if len(s) >= len(b) || bytes.Contains(s[len(s)-64:], []byte("~Module signature")) {
			t.Fatalf("%s: signature not stripped (%d of %d bytes)", m, len(s), len(b))
		}
		f, err := elf.NewFile(bytes.NewReader(s))
		if err != nil {
			t.Fatalf("%s stripped: %v", m, err)
		}
		if f.Section(".modinfo") == nil {
			t.Fatalf("%s stripped: no .modinfo", m)
		}
	}
}
