package app

import (
	"fmt"
	"os"
	"path/filepath"

	"tillbox/ledger/journal"
)

// exportFile names an export: till, the last seq it holds and the local time it was made.
func (a *App) exportFile(last uint64) string {
	dir := a.cfg.USBExport
	if dir == "" {
		dir = filepath.Join(a.cfg.Data, "export")
	}
	return filepath.Join(dir, fmt.Sprintf("%s-through-%d-%s.jsonl", a.led.Prefix(), last, a.now().Format("20060102-150405")))
}

// exportUSB writes the entries head office has not acknowledged to the USB stick while the
// till runs, as `tillbox ledger export` does with the till stopped: the file is written
// under a temporary name, synced and renamed, so a stick pulled early leaves no file that
// looks complete. The export is journaled with the file name and the number of entries.
func (a *App) exportUSB() {
	last, err := a.led.LastSeq()
	path := a.exportFile(last)
	n := 0
	if err == nil {
		n, err = writeExport(a, path)
	}
	if err != nil {
		a.log.Error("usb export", "err", err)
		a.emit("export", map[string]any{"err": err.Error()})
		a.setOperator([2]string{"! USB export failed: " + err.Error(), "nothing was lost: try again"})
		return
	}
	if _, err := a.led.Append(journal.Entry{Kind: journal.KindExport, Cashier: a.cashierID(), Offline: !a.online.Load(),
		Reason: fmt.Sprintf("%d unsynced entries to %s", n, filepath.Base(path))}); err != nil {
		a.log.Error("journal export", "err", err)
	}
	a.notifyUplink()
	a.emit("export", map[string]any{"file": path, "entries": n})
	a.setOperator([2]string{fmt.Sprintf("USB export: %d entries written", n), filepath.Base(path)})
}

func writeExport(a *App, path string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, err
	}
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := a.led.Export(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	return n, nil
}
