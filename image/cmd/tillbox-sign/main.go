package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"tillbox/image/bundle"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tillbox-sign:", err)
		os.Exit(1)
	}
}

const usage = "usage: tillbox-sign keygen|bundle|sign|verify ... (see go doc tillbox/image/cmd/tillbox-sign)"

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	keyPath := fs.String("key", "", "private key file")
	pubPath := fs.String("pub", "", "public key file")
	outPath := fs.String("o", "", "output")
	board := fs.String("board", "", "board profile the bundle is for")
	version := fs.String("version", "", "firmware version in the bundle")
	minVersion := fs.String("min-version", "", "oldest running version that may install it")
	rootfs := fs.String("rootfs", "", "root filesystem image")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "keygen":
		return keygen(*outPath, out)
	case "bundle":
		key, err := bundle.ReadPrivate(*keyPath)
		if err != nil {
			return err
		}
		return makeBundle(key, *board, *version, *minVersion, *rootfs, *outPath, out)
	case "sign":
		key, err := bundle.ReadPrivate(*keyPath)
		if err != nil {
			return err
		}
		for _, p := range fs.Args() {
			if err := signFile(key, p); err != nil {
				return err
			}
		}
		return nil
	case "verify":
		keys, err := bundle.ReadPublic(*pubPath)
		if err != nil {
			return err
		}
		for _, p := range fs.Args() {
			if err := verify(keys, p, out); err != nil {
				return err
			}
		}
		return nil
	}
	return errors.New(usage)
}

func keygen(prefix string, out io.Writer) error {
	if prefix == "" {
		return errors.New("keygen: -o PREFIX is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	f, err := os.OpenFile(prefix+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if _, err := f.Write(bundle.MarshalPrivate(priv)); err != nil {
		f.Close()
		return fmt.Errorf("keygen: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := os.WriteFile(prefix+".pub", bundle.MarshalPublic(pub), 0o644); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(out, "key %s: %s.key %s.pub\n", bundle.KeyID(pub), prefix, prefix)
	return nil
}

func makeBundle(key ed25519.PrivateKey, board, version, minVersion, rootfs, outPath string, out io.Writer) error {
	if rootfs == "" || outPath == "" {
		return errors.New("bundle: -rootfs and -o are required")
	}
	in, err := os.Open(rootfs)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	tmp := outPath + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer os.Remove(tmp)
	m, err := bundle.Create(f, bundle.Manifest{Board: board, Version: version, MinVersion: minVersion, Created: time.Now().UTC().Truncate(time.Second)}, in, fi.Size(), key)
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := os.Rename(tmp, outPath); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	fmt.Fprintf(out, "%s: board %s version %s, rootfs %d bytes sha256 %s, key %s\n", outPath, m.Board, m.Version, m.Rootfs.Size, m.Rootfs.SHA256, m.KeyID)
	return nil
}

func signFile(key ed25519.PrivateKey, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	defer f.Close()
	sig, err := bundle.SignFile(f, key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".sig", sig, 0o644); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	return nil
}

func verify(keys []ed25519.PublicKey, path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".tbx") {
		b, err := bundle.Open(f, keys)
		if err != nil {
			return fmt.Errorf("verify %s: %w", path, err)
		}
		if err := b.Verify(); err != nil {
			return fmt.Errorf("verify %s: %w", path, err)
		}
		m := b.Manifest
		fmt.Fprintf(out, "%s: OK, board %s version %s (min %q), rootfs %d bytes, key %s\n", path, m.Board, m.Version, m.MinVersion, m.Rootfs.Size, m.KeyID)
		return nil
	}
	sig, err := os.ReadFile(path + ".sig")
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := bundle.VerifyFile(f, sig, keys); err != nil {
		return fmt.Errorf("verify %s: %w", path, err)
	}
	fmt.Fprintf(out, "%s: OK\n", path)
	return nil
}
