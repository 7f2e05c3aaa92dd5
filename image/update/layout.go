package update

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// LayoutFile is where the stage-1 init describes the running box for `tillbox update`:
// the image knows its partitions, so the firmware need not.
const LayoutFile = "/run/tillbox/layout.json"

// Layout is the running box as the stage-1 init found it.
type Layout struct {
	Slots
	// Booted is the slot this boot runs from; Trying says the boot is a try.
	Booted string `json:"booted"`
	Trying bool   `json:"trying"`
	// Keys is the trusted update keys' file (on the read-only root).
	Keys string `json:"keys"`
	// Board and Version are the image's own, as built.
	Board   string `json:"board"`
	Version string `json:"version"`
}

// ReadLayout reads a layout file.
func ReadLayout(path string) (Layout, error) {
	var l Layout
	b, err := os.ReadFile(path)
	if err != nil {
		return l, fmt.Errorf("update: layout: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("update: layout %s: %w", path, err)
	}
	if !validSlot(l.Booted) || l.A == "" || l.B == "" || (l.Env == "") == (l.Tryboot == "") {
		return l, fmt.Errorf("update: layout %s: %w: incomplete", path, ErrState)
	}
	return l, nil
}

// WriteLayout writes a layout file (the stage-1 init, at boot).
func WriteLayout(path string, l Layout) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("update: layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("update: layout: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("update: layout: %w", err)
	}
	return nil
}
