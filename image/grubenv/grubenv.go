package grubenv

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"slices"
	"strings"
)

// Size is the size of an environment block in bytes.
const Size = 1024

const header = "# GRUB Environment Block\n"

// Errors callers may tell apart.
var (
	// ErrFormat: the file is not a GRUB environment block.
	ErrFormat = errors.New("not a GRUB environment block")
	// ErrTooLarge: the variables do not fit in one block.
	ErrTooLarge = errors.New("variables do not fit in 1024 bytes")
)

// Env is the block's variables.
type Env map[string]string

// Encode returns the 1024-byte block for e, keys sorted so that the same variables give
// the same bytes, SealKey (when set) last.
func Encode(e Env) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// The seal goes last: a write cut off before its end leaves no seal that matches.
	if i := slices.Index(keys, SealKey); i >= 0 {
		keys = append(append(keys[:i:i], keys[i+1:]...), SealKey)
	}
	for _, k := range keys {
		v := e[k]
		if k == "" || strings.ContainsAny(k, "=\n") || strings.Contains(v, "\n") {
			return nil, fmt.Errorf("grubenv: encode %q: bad key or value", k)
		}
		b.WriteString(k + "=" + v + "\n")
	}
	if b.Len() > Size {
		return nil, fmt.Errorf("grubenv: encode: %w (%d bytes)", ErrTooLarge, b.Len())
	}
	b.Write(bytes.Repeat([]byte{'#'}, Size-b.Len()))
	return b.Bytes(), nil
}

// Decode parses a block.
func Decode(b []byte) (Env, error) {
	if len(b) != Size || !bytes.HasPrefix(b, []byte(header)) {
		return nil, fmt.Errorf("grubenv: decode: %w", ErrFormat)
	}
	e := Env{}
	lines := strings.Split(string(b[len(header):]), "\n")
	for i, line := range lines {
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		switch {
		case !ok || k == "":
			return nil, fmt.Errorf("grubenv: decode: %w: line %q", ErrFormat, line)
		case i == len(lines)-1:
			// A variable ends with a newline: GRUB's reader stops at one that runs to the
			// end of the block, and with its newline it would not fit in the block again.
			return nil, fmt.Errorf("grubenv: decode: %w: variable %q runs to the end of the block", ErrFormat, k)
		}
		e[k] = v
	}
	return e, nil
}

// Read reads the block in path.
func Read(path string) (Env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grubenv: read: %w", err)
	}
	e, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return e, nil
}

// Create writes a new block file (the image builder; a box only ever rewrites).
func Create(path string, e Env) error {
	b, err := Encode(e)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("grubenv: create: %w", err)
	}
	return nil
}

// Write rewrites the existing block in path in place, and syncs it to the disk.
func Write(path string, e Env) error {
	b, err := Encode(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("grubenv: write: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("grubenv: write: %w", err)
	}
	if fi.Size() != Size {
		return fmt.Errorf("grubenv: write %s: %w (%d bytes)", path, ErrFormat, fi.Size())
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("grubenv: write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("grubenv: write: sync: %w", err)
	}
	return f.Close()
}

// SealKey is the variable WriteSafe adds, the block's last: a CRC-32 (IEEE, eight hex
// digits) of the other variables; of those named in unsealed (what the boot loader
// rewrites itself, one byte in place) only the name counts.
const SealKey = "grubenv_seal"

// SpareSuffix names the spare block beside a block: path+SpareSuffix.
const SpareSuffix = ".new"

func seal(e Env, unsealed []string) string {
	keys := make([]string, 0, len(e))
	for k := range e {
		if k != SealKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := crc32.NewIEEE()
	for _, k := range keys {
		if slices.Contains(unsealed, k) {
			fmt.Fprintf(h, "%s\n", k)
		} else {
			fmt.Fprintf(h, "%s=%s\n", k, e[k])
		}
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

// sealed decodes a block and checks its seal.
func sealed(path string, unsealed []string) (Env, error) {
	e, err := Read(path)
	if err != nil {
		return nil, err
	}
	if s, ok := e[SealKey]; !ok || s != seal(e, unsealed) {
		return nil, fmt.Errorf("grubenv: read %s: %w: the seal does not match (a torn write)", path, ErrFormat)
	}
	delete(e, SealKey)
	return e, nil
}

// EncodeSafe returns the sealed block that WriteSafe writes for e (the fault hooks of the
// update tests write a part of it, as a power cut would).
func EncodeSafe(e Env, unsealed ...string) ([]byte, error) {
	s := maps.Clone(e)
	s[SealKey] = seal(e, unsealed)
	return Encode(s)
}

// CreateSafe writes a new sealed block and its spare (the image builder).
func CreateSafe(path string, e Env, unsealed ...string) error {
	s := maps.Clone(e)
	s[SealKey] = seal(e, unsealed)
	if err := Create(path+SpareSuffix, s); err != nil {
		return err
	}
	return Create(path, s)
}

// ReadSafe reads the sealed block in path or, when a power cut tore it, its spare; torn
// reports that the block itself was torn (RepairSafe rewrites it). A block without a spare
// beside it is read as a plain block (Read).
func ReadSafe(path string, unsealed ...string) (e Env, torn bool, err error) {
	if _, serr := os.Stat(path + SpareSuffix); serr != nil {
		e, err = Read(path)
		return e, false, err
	}
	e, err = sealed(path, unsealed)
	if err == nil {
		return e, false, nil
	}
	e, serr := sealed(path+SpareSuffix, unsealed)
	if serr != nil {
		return nil, true, fmt.Errorf("%w; spare: %w", err, serr)
	}
	return e, true, nil
}

// WriteSafe rewrites a sealed block so that a power cut at any moment leaves the old
// variables or the new ones for ReadSafe: the new block goes to the spare first, synced,
// then over the block in place (Write), synced. A torn spare leaves the block as it was; a
// torn block leaves the spare with the new variables. A block without a spare is written
// in place (Write).
func WriteSafe(path string, e Env, unsealed ...string) error {
	if _, err := os.Stat(path + SpareSuffix); err != nil {
		return Write(path, e)
	}
	s := maps.Clone(e)
	s[SealKey] = seal(e, unsealed)
	if err := Write(path+SpareSuffix, s); err != nil {
		return err
	}
	return Write(path, s)
}

// RepairSafe rewrites a torn block from its spare, and reports whether it did.
func RepairSafe(path string, unsealed ...string) (bool, error) {
	e, torn, err := ReadSafe(path, unsealed...)
	if err != nil || !torn {
		return false, err
	}
	s := maps.Clone(e)
	s[SealKey] = seal(e, unsealed)
	return true, Write(path, s)
}
