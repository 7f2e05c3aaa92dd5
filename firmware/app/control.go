package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"tillbox/ledger"
)

// ControlSocket is the running till's control socket in its data directory. While the
// till holds the ledger's lock, the technician's `tillbox ledger stats|verify` asks the
// till over it instead. It answers only reads: nothing sent over it changes the ledger.
const ControlSocket = "tillbox.sock"

// The requests the control socket answers, one line each.
const (
	RequestStats    = "ledger stats"
	RequestVerify   = "ledger verify"
	RequestReceipts = "receipts" // the recent receipts with their sync status
)

// Receipt is one row of `tillbox receipts`: a document and where it is.
type Receipt struct {
	Receipt  string    `json:"receipt"`
	Seq      uint64    `json:"seq"`
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	Cashier  string    `json:"cashier,omitempty"`
	Currency string    `json:"currency,omitempty"`
	Total    *int64    `json:"total,omitempty"`
	Offline  bool      `json:"offline,omitempty"`
	Sync     string    `json:"sync"` // unsynced, sent or stored at HQ
	Copies   int       `json:"copies,omitempty"`
}

// Receipts lists up to n recent receipts of l, newest first; online says whether the entries
// above HQ's watermark are on their way (a running till's uplink is online).
func Receipts(l *ledger.Ledger, n int, online bool) ([]Receipt, error) {
	docs, err := recentDocuments(l, n)
	if err != nil {
		return nil, err
	}
	j := ledgerJournal{l: l, a: &App{}}
	j.a.online.Store(online)
	out := make([]Receipt, 0, len(docs))
	for _, d := range docs {
		r := Receipt{Receipt: d.Receipt, Seq: d.Seq, Kind: string(d.Kind), At: d.At, Cashier: d.Cashier, Currency: d.Currency,
			Offline: d.Offline, Sync: j.SyncStatus(d.Seq)}
		if d.Totals != nil {
			g := d.Totals.Gross
			r.Total = &g
		}
		r.Copies, _ = j.Copies(d.Receipt)
		out = append(out, r)
	}
	return out, nil
}

// ControlReply is the control socket's answer: one JSON line.
type ControlReply struct {
	Stats    *ledger.Stats  `json:"stats,omitempty"`
	Verify   *ledger.Report `json:"verify,omitempty"`
	Receipts []Receipt      `json:"receipts,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// controlTimeout bounds one exchange on the control socket, a verify of a large ledger
// included.
const controlTimeout = 2 * time.Minute

// serveControl listens on DATA/tillbox.sock until stop is called. A socket file left by a
// till that was killed is replaced: this process holds the ledger's lock, so no other till
// serves this data directory.
func (a *App) serveControl() (stop func(), err error) {
	path := filepath.Join(a.cfg.Data, ControlSocket)
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("app: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("app: control socket: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.answerControl(c)
			}()
		}
	}()
	return func() {
		ln.Close()
		os.Remove(path)
		wg.Wait()
	}, nil
}

func (a *App) answerControl(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		return
	}
	var rep ControlReply
	switch req := strings.TrimSpace(line); req {
	case RequestStats:
		s, err := a.led.Stats()
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.Stats = &s
		}
	case RequestVerify:
		r, err := a.led.Verify()
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.Verify = &r
		}
	case RequestReceipts:
		rs, err := Receipts(a.led, 200, a.online.Load())
		if err != nil {
			rep.Error = err.Error()
		} else {
			rep.Receipts = rs
		}
	default:
		rep.Error = fmt.Sprintf("unknown request %q", req)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return
	}
	c.Write(append(b, '\n'))
}

// ErrNoRunningTill: no till answers on the data directory's control socket.
var ErrNoRunningTill = errors.New("no running till answers")

// AskRunning sends req to the till running on dataDir and returns its answer. A reply that
// carries an error is returned as one.
func AskRunning(dataDir, req string) (ControlReply, error) {
	path := filepath.Join(dataDir, ControlSocket)
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return ControlReply{}, fmt.Errorf("app: ask %s: %w: %w", path, ErrNoRunningTill, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return ControlReply{}, fmt.Errorf("app: ask %s: %w", path, err)
	}
	var rep ControlReply
	if err := json.NewDecoder(c).Decode(&rep); err != nil {
		return ControlReply{}, fmt.Errorf("app: ask %s: %w", path, err)
	}
	if rep.Error != "" {
		return rep, fmt.Errorf("app: the running till: %s", rep.Error)
	}
	return rep, nil
}
