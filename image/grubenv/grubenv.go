package grubenv

import (
	"bytes"
	"errors"
	"fmt"
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
// the same bytes.
func Encode(e Env) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
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
