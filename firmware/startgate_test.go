package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartGateLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"go alone", "go\n", true},
		{"env and dir, then go", "env TILLBOX_GATE_TEST=a=b c\ndir " + dir + "\ngo\n", true},
		{"closed at once", "", false},
		{"closed before the go", "env TILLBOX_GATE_TEST=x\n", false},
		{"go without its newline", "go", false},
		{"a line after the go", "go\nenv A=b\n", false},
		{"unknown line", "wait\ngo\n", false},
		{"env without a value", "env NOVALUE\ngo\n", false},
		{"a directory that is not there", "dir " + filepath.Join(dir, "none") + "\ngo\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wd, _ := os.Getwd()
			t.Cleanup(func() { os.Chdir(wd); os.Unsetenv("TILLBOX_GATE_TEST") })
			err := readStartGate(strings.NewReader(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("readStartGate(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
			if tc.ok && strings.Contains(tc.in, "TILLBOX_GATE_TEST") {
				if v := os.Getenv("TILLBOX_GATE_TEST"); v != "a=b c" {
					t.Errorf("env: %q", v)
				}
				if got, _ := os.Getwd(); got != dir {
					t.Errorf("working directory %s, want %s", got, dir)
				}
			}
		})
	}
}

// TestTheGatedTillTouchesNothingBeforeItsGo: a till started behind its gate that is closed
// without the go stops with the reason and has made nothing in its data directory; with
// the go, its working directory (where a relative --data lives) is the one the go names.
func TestTheGatedTillTouchesNothingBeforeItsGo(t *testing.T) {
	bin := buildTillbox(t)
	gated := func(t *testing.T, gate string) (string, string, error) {
		t.Helper()
		top := t.TempDir()
		work := filepath.Join(top, "work")
		os.Mkdir(work, 0o700)
		cfg := filepath.Join(top, "till.json")
		os.WriteFile(cfg, []byte(`{"uplink":{"broker":"","embedded":false},"technician":{"listen":"off"}}`), 0o600)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := exec.Command(bin, "run", "--config", cfg, "--data", "data", "--script", os.DevNull)
		c.Dir = top
		c.ExtraFiles = []*os.File{r}
		c.Env = append(os.Environ(), startGateEnv+"=3")
		var out strings.Builder
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		w.WriteString(strings.ReplaceAll(gate, "WORK", work))
		w.Close()
		err = c.Wait()
		return top, out.String(), err
	}

	t.Run("closed without the go", func(t *testing.T) {
		top, out, err := gated(t, "env A=b\n")
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(out, "closed without the go") {
			t.Fatalf("till: %v\n%s", err, out)
		}
		for _, d := range []string{filepath.Join(top, "data"), filepath.Join(top, "work", "data")} {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v (made before the go)", d, err)
			}
		}
	})
	t.Run("go", func(t *testing.T) {
		top, out, err := gated(t, "dir WORK\ngo\n")
		if err != nil {
			t.Fatalf("till: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(top, "work", "data", "till.ledger")); err != nil {
			t.Errorf("no ledger in the go's directory: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(top, "data")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a data directory where the till was started: %v", err)
		}
	})
}
