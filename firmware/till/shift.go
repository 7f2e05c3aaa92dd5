package till

import (
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"
)

// Shift returns the open shift, or nil.
func (e *Engine) Shift() *Shift { return e.shift }

// RestoreShift brings back the open shift from its record.
func (e *Engine) RestoreShift(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var s Shift
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("till: restore shift: %w", err)
	}
	e.shift = &s
	return nil
}

// shiftOpen asks for the float put in the drawer and journals it as the shift's start.
func (e *Engine) shiftOpen() Output {
	if e.shift != nil {
		return e.refuse(fmt.Sprintf("a shift is open since %s (cashier %s): close it first (12)", e.Clock(e.shift.Opened), e.shift.Cashier))
	}
	return e.ask(askStep{prompt: "SHIFT OPEN: float in the drawer + ENTER", back: modeIdle,
		enter: func(in string, now time.Time) Output {
			v, ok := parseAmount(in)
			if !ok || v < 0 {
				return e.refuse("float: type the amount, then ENTER (0 for none)")
			}
			e.leaveAsk()
			e.shift = &Shift{Cashier: e.cashier.ID, Float: v, Opened: now}
			c := &Commit{Entry: journal.Entry{Kind: journal.KindShiftOpen, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency,
				Tenders: []journal.Tender{{Kind: "cash", Amount: v}}, Totals: &journal.Totals{Gross: v}}, Print: true, OpenDrawer: "shift-open"}
			return e.commitDocument(c)
		}})
}

// ShiftCloseData is what a shift-close entry carries besides the report figures the caller
// adds: the cash counted, and the shift-open entry the figures start from.
type ShiftCloseData struct {
	Counted  int64  `json:"counted"`
	FromSeq  uint64 `json:"from_seq"`
	Float    int64  `json:"float"`
	Opened   string `json:"opened_by"`
	ClosedBy string `json:"closed_by"`
}

// shiftClose asks for the cash counted in the drawer; the caller computes what was expected
// (Commit.Report) and so the over or short.
func (e *Engine) shiftClose() Output {
	if e.shift == nil {
		return e.refuse("no shift is open (11 opens one)")
	}
	if n := len(e.parked); n > 0 {
		return e.refuse(fmt.Sprintf("shift close refused: %d parked sale(s); PARK resumes them", n))
	}
	return e.ask(askStep{prompt: "SHIFT CLOSE: cash counted in the drawer + ENTER", back: modeIdle,
		enter: func(in string, now time.Time) Output {
			v, ok := parseAmount(in)
			if !ok || v < 0 {
				return e.refuse("counted cash: type the amount, then ENTER")
			}
			e.leaveAsk()
			sh := e.shift
			data, _ := json.Marshal(ShiftCloseData{Counted: v, FromSeq: sh.Seq, Float: sh.Float, Opened: sh.Cashier, ClosedBy: e.cashier.ID})
			e.shift = nil
			c := &Commit{Entry: journal.Entry{Kind: journal.KindShiftClose, At: now, Cashier: e.cashier.ID, Currency: e.cfg.Currency, Data: data},
				Print: true, Report: true, Records: []Record{{Bucket: BucketTill, Key: KeyShift}}}
			return e.commitDocument(c)
		}})
}
