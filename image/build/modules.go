package build

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modName is a module's name as the kernel compares them: '-' and '_' are the same.
func modName(s string) string { return strings.ReplaceAll(strings.TrimSuffix(s, ".ko"), "-", "_") }

// kernelModules indexes the kernel package's modules directory: each module's file and
// the modules built into the kernel (modules.builtin).
type kernelModules struct {
	files   map[string]string
	builtin map[string]bool
}

func readModules(root string) (*kernelModules, error) {
	km := &kernelModules{files: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".ko") {
			km.files[modName(d.Name())] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build: modules: %w", err)
	}
	if len(km.files) == 0 {
		return nil, fmt.Errorf("build: no modules in %s (run scripts/image-fetch.sh)", root)
	}
	if b, err := os.ReadFile(filepath.Join(root, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			km.builtin[modName(filepath.Base(sc.Text()))] = true
		}
	}
	return km, nil
}

// depends reads a module's "depends=" from its .modinfo section (what depmod puts in
// modules.dep; the kernel package ships the modules without it).
func depends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("build: module %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("build: module %s: no .modinfo", filepath.Base(path))
	}
	b, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("build: module %s: %w", filepath.Base(path), err)
	}
	var deps []string
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, modName(d))
				}
			}
		}
	}
	return deps, nil
}

// resolve returns want with every module's dependencies ahead of it, each module once,
// built-in ones dropped, in an order finit_module accepts; a module that is neither a file
// nor built in is an error naming it.
func (km *kernelModules) resolve(want []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, from string) error
	visit = func(n, from string) error {
		n = modName(n)
		switch state[n] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("build: module %s: dependency cycle", n)
		}
		if _, ok := km.files[n]; !ok {
			if km.builtin[n] {
				state[n] = 2
				return nil
			}
			if from != "" {
				return fmt.Errorf("build: module %s (needed by %s): not in the kernel package", n, from)
			}
			return fmt.Errorf("build: module %s: not in the kernel package", n)
		}
		state[n] = 1
		deps, err := depends(km.files[n])
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, n); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, n)
		return nil
	}
	for _, n := range want {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleSigMarker ends a module that carries an appended signature (the kernel's
// MODULE_SIG_STRING); the 12-byte struct module_signature before it ends with the
// signature's length (big-endian), and the signature is just before that.
const moduleSigMarker = "~Module signature appended~\n"

// stripSignature returns the module without its appended signature, or as it is when it
// has none. The initrd goes without the signatures: the kernel's check of each one (a
// SHA-256 over the whole module, 2.4 MB for qemu-virt's, and an RSA verification, in
// software) is work in the boot's module phase that guards nothing the box relies on. The
// kernel does not enforce module signatures (Debian's kernel does only under UEFI Secure
// Boot's lockdown, which neither board's firmware turns on), and the modules reach the box
// inside the slot's root filesystem, which the update's ed25519 signature covers whole.
// The kernel notes the first unsigned module once in its log ("module verification
// failed") and taints itself with E, which changes nothing else.
func stripSignature(mod []byte) ([]byte, error) {
	if !bytes.HasSuffix(mod, []byte(moduleSigMarker)) {
		return mod, nil
	}
	end := len(mod) - len(moduleSigMarker)
	if end < 12 {
		return nil, fmt.Errorf("build: module signature: %d bytes, too short", len(mod))
	}
	sigLen := int(binary.BigEndian.Uint32(mod[end-4 : end]))
	body := end - 12 - sigLen
	if sigLen <= 0 || body <= 0 {
		return nil, fmt.Errorf("build: module signature: length %d in a %d-byte module", sigLen, len(mod))
	}
	return mod[:body], nil
}
