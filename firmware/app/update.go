package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tillbox/image/update"
	"tillbox/ledger/journal"
)

// ErrRebootForUpdate ends Run when the fleet's update command installed a bundle for one
// try: the caller exits with update.ExitRebootForTry and the stage-1 init reboots into it.
var ErrRebootForUpdate = errors.New("rebooting into the installed update's try")

// updateArgs are the update command's arguments: a bundle already on the box (copied to
// the data partition by a technician or fetched by the fleet's tooling).
type updateArgs struct {
	File string `json:"file"`
}

type updateRequest struct {
	file       string
	background bool // from the desired firmware: an open sale defers it (fleetupdate.go)
	reply      chan updateReply
}

type updateReply struct {
	res update.Result
	err error
}

// updateCommand is the uplink's handler of the fleet's update command. It runs on the
// uplink's goroutine, so it hands the work to the run loop, which alone knows whether a sale
// is open, and waits for the answer within ctx.
func (a *App) updateCommand(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	var ua updateArgs
	if err := json.Unmarshal(args, &ua); err != nil || ua.File == "" {
		return nil, errors.New(`update: want args {"file": "/path/to/bundle.tbx"}`)
	}
	req := updateRequest{file: ua.File, reply: make(chan updateReply, 1)}
	select {
	case a.updates <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("update: the till is busy: %w", ctx.Err())
	}
	select {
	case r := <-req.reply:
		if r.err != nil {
			return nil, r.err
		}
		return json.Marshal(map[string]any{"version": r.res.Version, "slot": r.res.Slot, "bytes": r.res.Bytes, "reboot": true})
	case <-ctx.Done():
		return nil, fmt.Errorf("update: no answer in time: %w", ctx.Err())
	}
}

// installUpdate runs in the run loop: never during an open sale, and journaled either way.
func (a *App) installUpdate(file string) (update.Result, error) {
	open := func() (bool, error) { return a.eng.Sale() != nil, nil }
	var res update.Result
	var err error
	if busy, _ := open(); busy {
		err = errors.New("a sale is open; send the command again once it is finished")
	} else {
		res, err = update.InstallFile(a.slots, file, update.Options{Running: a.version, OpenSale: open})
	}
	note := fmt.Sprintf("update %s installed into slot %s for one try", res.Version, res.Slot)
	if err != nil {
		note = "update refused: " + err.Error()
	}
	if _, jerr := a.led.Append(journal.Entry{Kind: journal.KindUpdate, Reason: note, Offline: !a.online.Load()}); jerr != nil {
		a.log.Error("journal update", "err", jerr)
	}
	a.notifyUplink()
	a.emit("update", map[string]any{"note": note})
	if err == nil {
		a.setOperator([2]string{"update installed: restarting", "version " + res.Version})
	}
	return res, err
}

// rebootDelay leaves the uplink time to publish the command's result before the till stops.
const rebootDelay = 2 * time.Second

// reportUpdate journals the last update's outcome, as the stage-1 init left it in the data
// directory, unless it was reported already, and then marks it reported. A power cut
// between the two journals it once more at the next start: an outcome is never lost.
func (a *App) reportUpdate() {
	path := filepath.Join(a.cfg.Data, update.StatusFile)
	st, err := update.ReadStatus(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("update status", "err", err)
		}
		return
	}
	if st.Reported {
		return
	}
	note := st.Note(a.version)
	if _, err := a.led.Append(journal.Entry{Kind: journal.KindUpdate, Reason: note, Offline: !a.online.Load()}); err != nil {
		a.log.Error("journal update", "err", err)
		return
	}
	if a.fleet != nil {
		a.fleet.outcome(st)
	}
	st.Reported = true
	if err := update.WriteStatus(path, st); err != nil {
		a.log.Error("update status", "err", err)
	}
	a.notifyUplink()
	a.emit("update", map[string]any{"note": note})
}
