package techpage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"tillbox/image/update"
)

// NetFile is the network and time status the image's init writes into the data directory.
// The page shows every field it holds, whatever they are; a box without one (the sim, a
// laptop) shows "not reported".
const NetFile = "net.json"

// maxNetFile bounds what is read of NetFile.
const maxNetFile = 64 << 10

// netStatus is NetFile as the page shows it.
type netStatus struct {
	Reported bool
	Written  time.Time // the file's modification time
	Rows     []kv      // every field, nested ones as a.b, in name order
	Err      string    // the file is there but does not read
}

type kv struct{ Key, Value string }

func readNet(dataDir string) netStatus {
	path := filepath.Join(dataDir, NetFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return netStatus{}
	}
	if err != nil {
		return netStatus{Reported: true, Err: err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return netStatus{Reported: true, Err: err.Error()}
	}
	st := netStatus{Reported: true, Written: fi.ModTime()}
	if fi.Size() > maxNetFile {
		st.Err = fmt.Sprintf("%s is %d bytes, more than the %d read", path, fi.Size(), maxNetFile)
		return st
	}
	var v any
	if err := json.NewDecoder(f).Decode(&v); err != nil {
		st.Err = fmt.Sprintf("%s does not parse: %v", path, err)
		return st
	}
	m, ok := v.(map[string]any)
	if !ok {
		st.Err = fmt.Sprintf("%s is not a JSON object", path)
		return st
	}
	flatten("", m, &st.Rows)
	sort.Slice(st.Rows, func(i, j int) bool { return st.Rows[i].Key < st.Rows[j].Key })
	return st
}

func flatten(prefix string, m map[string]any, out *[]kv) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			flatten(key, x, out)
		case string:
			*out = append(*out, kv{key, x})
		case nil:
			*out = append(*out, kv{key, "none"})
		case []any:
			parts := make([]string, len(x))
			for i, e := range x {
				b, _ := json.Marshal(e)
				parts[i] = strings.Trim(string(b), `"`)
			}
			*out = append(*out, kv{key, strings.Join(parts, ", ")})
		default:
			b, _ := json.Marshal(x)
			*out = append(*out, kv{key, string(b)})
		}
	}
}

// BootStatus is the A/B state as the page shows it.
type BootStatus struct {
	Image         bool   // an A/B image's layout file is there
	Booted        string // the slot this boot runs from
	Trying        bool   // this boot is an update's try
	Version       string // the image's own version
	Board         string
	Active        string // the confirmed slot and its version
	ActiveVersion string
	Next          string // the slot to try once, "" none
	NextVersion   string
	Failed        string // the last version whose try failed
	Err           string
}

// ReadBoot reads the layout the stage-1 init wrote ("": update.LayoutFile) and the boot
// state it names. It only reads: nothing here changes the boot state. Booted is set
// whenever the layout reads, even when the boot state does not.
func ReadBoot(layoutPath string) BootStatus {
	if layoutPath == "" {
		layoutPath = update.LayoutFile
	}
	l, err := update.ReadLayout(layoutPath)
	if errors.Is(err, fs.ErrNotExist) {
		return BootStatus{}
	}
	if err != nil {
		return BootStatus{Image: true, Err: err.Error()}
	}
	b := BootStatus{Image: true, Booted: l.Booted, Trying: l.Trying, Version: l.Version, Board: l.Board}
	st, err := l.Slots.State()
	if err != nil {
		b.Err = err.Error()
		return b
	}
	b.Active, b.ActiveVersion, b.Next, b.NextVersion, b.Failed = st.Active, st.ActiveVersion, st.Next, st.NextVersion, st.Failed
	return b
}
