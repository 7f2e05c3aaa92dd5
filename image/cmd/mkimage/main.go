package main

import (
	"compress/gzip"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tillbox/image/build"
	"tillbox/image/bundle"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	var o build.Options
	fs.StringVar(&o.Board, "board", "qemu-virt", "board")
	fs.StringVar(&o.Version, "version", "", "firmware version (dotted numbers)")
	fs.StringVar(&o.Cache, "cache", ".cache/image", "cache with kernel/ and grub/ (scripts/image-fetch.sh)")
	fs.StringVar(&o.Init, "init", "", "stage-1 init binary (arm64)")
	fs.StringVar(&o.Tillbox, "tillbox", "", "tillbox binary (arm64)")
	keyPath := fs.String("key", "", "signing key; its public half becomes the trusted update key")
	minVersion := fs.String("min-version", "", "the bundle's minimum running version")
	config := fs.String("config", "", "the till's config.json for the data partition")
	outDir := fs.String("out", "dist", "output directory")
	raw := fs.Bool("raw", false, "keep the uncompressed disk image too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := bundle.ParseVersion(o.Version); err != nil {
		return err
	}
	key, err := bundle.ReadPrivate(*keyPath)
	if err != nil {
		return err
	}
	cfg, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	o.Work, err = os.MkdirTemp(*outDir, ".work-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(o.Work)
	o.Keys = filepath.Join(o.Work, "update.pub")
	if err := os.WriteFile(o.Keys, bundle.MarshalPublic(key.Public().(ed25519.PublicKey)), 0o644); err != nil {
		return err
	}
	start := time.Now()
	base := filepath.Join(*outDir, fmt.Sprintf("tillbox-%s-%s", o.Board, o.Version))
	rootfs := filepath.Join(o.Work, "rootfs.squashfs")
	if err := build.Rootfs(o, rootfs); err != nil {
		return err
	}
	img := base + ".img"
	if err := build.Disk(o, rootfs, cfg, img); err != nil {
		return err
	}
	if err := gzipFile(img, img+".gz"); err != nil {
		return err
	}
	if !*raw {
		os.Remove(img)
	}
	if err := signFile(img+".gz", key); err != nil {
		return err
	}
	if err := makeBundle(rootfs, base+".tbx", o, *minVersion, key); err != nil {
		return err
	}
	sums := ""
	for _, p := range []string{img + ".gz", base + ".tbx"} {
		s, err := sha256File(p)
		if err != nil {
			return err
		}
		sums += s + "  " + filepath.Base(p) + "\n"
	}
	if err := os.WriteFile(filepath.Join(*outDir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		return err
	}
	for _, p := range []string{img + ".gz", img + ".gz.sig", base + ".tbx"} {
		if fi, err := os.Stat(p); err == nil {
			fmt.Printf("%-50s %6.1f MiB\n", filepath.Base(p), float64(fi.Size())/(1<<20))
		}
	}
	fmt.Printf("image %s built in %s\n", o.Version, time.Since(start).Round(time.Millisecond))
	return nil
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func signFile(p string, key ed25519.PrivateKey) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	sig, err := bundle.SignFile(f, key)
	if err != nil {
		return err
	}
	return os.WriteFile(p+".sig", sig, 0o644)
}

func makeBundle(rootfs, out string, o build.Options, minVersion string, key ed25519.PrivateKey) error {
	in, err := os.Open(rootfs)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := bundle.Create(f, bundle.Manifest{Board: o.Board, Version: o.Version, MinVersion: minVersion, Created: time.Now().UTC().Truncate(time.Second)}, in, fi.Size(), key); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
