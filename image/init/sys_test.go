//go:build linux

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tillbox/image/spec"
)

// Modules linked by a dependency share a group, in the order given; the others are
// groups of their own, so that no module loads beside a dependency of its own.
func TestModuleGroupsKeepDependenciesTogetherInOrder(t *testing.T) {
	deps := map[string][]string{"jbd2": {"crc16"}, "ext4": {"jbd2", "mbcache", "crc16"}, "vfat": {"fat"}, "virtio_blk": nil}
	names := []string{"crc16", "virtio_blk", "mbcache", "fat", "jbd2", "vfat", "evdev", "ext4"}
	got := groupModules(names, func(n string) []string { return deps[n] })
	want := [][]string{{"crc16", "mbcache", "jbd2", "ext4"}, {"virtio_blk"}, {"fat", "vfat"}, {"evdev"}}
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Fatalf("groups %v, want %v", got, want)
	}
}

func TestModuleDependsFromModinfo(t *testing.T) {
	mod := []byte("\x7fELF...\x00license=GPL\x00depends=mbcache,jbd2,crc16\x00intree=Y\x00name=ext4\x00")
	if got := moduleDepends(mod); !slices.Equal(got, []string{"mbcache", "jbd2", "crc16"}) {
		t.Fatalf("depends %v", got)
	}
	if got := moduleDepends([]byte("\x00depends=\x00name=evdev\x00")); len(got) != 0 {
		t.Fatalf("no depends: got %v", got)
	}
	if got := moduleDepends([]byte("\x00depends=nls-cp437\x00")); !slices.Equal(got, []string{"nls_cp437"}) {
		t.Fatalf("'-' as '_': got %v", got)
	}
}

// On the fetched kernel package: the qemu-virt board's modules, as the image builder
// ordered them, group with every dependency of a module inside the module's group and
// ahead of it.
func TestQemuVirtModuleGroups(t *testing.T) {
	root := filepath.Join("..", "..", ".cache", "image", "kernel", "modules")
	if _, err := os.Stat(root); err != nil {
		t.Skip("no kernel package fetched (scripts/image-fetch.sh)")
	}
	files := map[string]string{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".ko") {
			files[strings.ReplaceAll(strings.TrimSuffix(d.Name(), ".ko"), "-", "_")] = p
		}
		return nil
	})
	names := spec.Boards()["qemu-virt"].Modules
	depends := func(n string) []string {
		b, err := os.ReadFile(files[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		return moduleDepends(b)
	}
	groups := groupModules(names, depends)
	seen := 0
	for _, g := range groups {
		for i, n := range g {
			seen++
			for _, d := range depends(n) {
				if slices.Contains(names, d) && !slices.Contains(g[:i], d) {
					t.Errorf("%s needs %s, which is not ahead of it in its group %v", n, d, g)
				}
			}
		}
	}
	if seen != len(names) {
		t.Fatalf("%d modules in the groups, want %d", seen, len(names))
	}
	if len(groups) < 2 {
		t.Fatalf("groups %v: nothing loads side by side", groups)
	}
	t.Logf("groups: %v", groups)
}
