package update

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StatusFile is the name, in the till's data directory, of the last update's outcome. The
// stage-1 init writes it when a try is decided; the till journals it (an update entry, so
// head office learns of it with the next sync) and marks it reported.
const StatusFile = "update-status.json"

// Outcomes of a try.
const (
	StatusConfirmed = "confirmed"
	StatusFailed    = "failed"
)

// Status is the last update's outcome. The slot that decides it may not be the one that
// runs next (a failed try is left by the new slot and read by the old one), so its format
// is kept as it is across versions: fields may be added, never renamed.
type Status struct {
	State    string    `json:"state"` // StatusConfirmed or StatusFailed
	Version  string    `json:"version"`
	Detail   string    `json:"detail,omitempty"`
	At       time.Time `json:"at"`
	Reported bool      `json:"reported"` // journaled in the ledger
}

// Note is the journal text of the outcome; running is the version now running.
func (s Status) Note(running string) string {
	if s.State == StatusConfirmed {
		return fmt.Sprintf("update %s confirmed", s.Version)
	}
	return fmt.Sprintf("update failed: %s rolled back, running %s: %s", s.Version, running, s.Detail)
}

// ReadStatus reads the status file at path. A missing file is an error that wraps
// os.ErrNotExist: no update was decided on this box.
func ReadStatus(path string) (Status, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Status{}, fmt.Errorf("update: status: %w", err)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return Status{}, fmt.Errorf("update: status %s: %w", path, err)
	}
	return s, nil
}

// WriteStatus replaces the status file at path through a synced temporary file, a rename
// and a sync of the directory, so a power cut leaves the old status or the new one, and the
// new one once WriteStatus returned.
func WriteStatus(path string, s Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("update: status: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".update-status-*")
	if err != nil {
		return fmt.Errorf("update: status: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	for _, err := range []error{werr, serr, cerr} {
		if err != nil {
			return fmt.Errorf("update: status: %w", err)
		}
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("update: status: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("update: status: %w", err)
	}
	// The rename is on the disk before the caller changes the boot state after it.
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("update: status: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("update: status: sync %s: %w", filepath.Dir(path), err)
	}
	return nil
}
