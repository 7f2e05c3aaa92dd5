package till

import (
	"encoding/json"
	"fmt"
	"time"

	"tillbox/ledger/journal"
	"tillbox/uplink/wire"
)

func (e *Engine) signOnKey(k Key, now time.Time) Output {
	switch {
	case e.mode == modeSignedOff && k == KeySignOn:
		e.mode = modeCashierID
		return e.show(e.prompt(), "")
	case e.mode == modeSignedOff && k == KeyEnter && e.input != "":
		e.mode = modeCashierID
		fallthrough
	case e.mode == modeCashierID && k == KeyEnter:
		id := e.takeInput()
		if id == "" {
			return e.refuse("type your cashier number")
		}
		e.signOnID = id
		e.mode = modePIN
		return e.show(e.prompt(), "")
	case e.mode == modePIN && k == KeyEnter:
		id, pin := e.signOnID, e.takeInput()
		c, err := e.authenticate(id, pin, now)
		if err != "" {
			e.mode = modeSignedOff
			return e.pinFailed(id, err, now)
		}
		e.cashier = c
		e.mode = modeIdle
		out := e.show("signed on: "+c.Name, "")
		out.Commit = e.technical(journal.KindSignOn, "", now)
		return e.withLockoutCleared(out)
	}
	if e.mode == modeSignedOff {
		return e.refuse("sign on first")
	}
	return e.refuse(k.String() + " is not used here")
}

// authenticate checks a PIN, counting failures per cashier id; after MaxPINFailures the id is
// locked for Lockout. The answer never says whether the id exists.
func (e *Engine) authenticate(id, pin string, now time.Time) (*Cashier, string) {
	if until, ok := e.locked[id]; ok {
		if now.Before(until) {
			return nil, fmt.Sprintf("cashier %s locked until %s", id, e.Clock(until))
		}
		delete(e.locked, id)
		e.failures[id] = 0
		e.clearLockout = id
	}
	c, ok := e.cat.Cashiers[id]
	if !ok || !wire.CheckPIN(c.PINHash, pin) {
		e.failures[id]++
		if e.failures[id] >= e.cfg.MaxPINFailures {
			e.locked[id] = now.Add(e.cfg.Lockout)
			return nil, fmt.Sprintf("wrong number or PIN: cashier %s locked until %s", id, e.Clock(e.locked[id]))
		}
		return nil, fmt.Sprintf("wrong number or PIN (%d of %d tries)", e.failures[id], e.cfg.MaxPINFailures)
	}
	if e.failures[id] > 0 {
		e.failures[id] = 0
		e.clearLockout = id
	}
	if e.clearLockout != id {
		e.clearLockout = ""
	}
	return &c, ""
}

// lockout is a cashier id's failed PINs and lockout as the record keeps them.
type lockout struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until,omitzero"`
}

// pinFailed refuses a sign-on or approval with why, journals the failure (the id as typed,
// never the PIN) and keeps the id's failures and lockout in its record, so a restart
// forgets neither.
func (e *Engine) pinFailed(id, why string, now time.Time) Output {
	out := e.refuse(why)
	c := &Commit{Entry: journal.Entry{Kind: journal.KindPINFailure, At: now, Reason: fmt.Sprintf("cashier %s: %s", id, why)}}
	if e.cashier != nil {
		c.Entry.Cashier = e.cashier.ID
	}
	out.Commit = c
	b, _ := json.Marshal(lockout{Failures: e.failures[id], Until: e.locked[id]})
	out.Save = []Record{{Bucket: BucketLockout, Key: id, Value: b}}
	return out
}

// RestoreLockouts brings back the failed PINs and lockouts kept per cashier id.
func (e *Engine) RestoreLockouts(recs map[string][]byte) error {
	var bad []string
	for id, b := range recs {
		var l lockout
		if err := json.Unmarshal(b, &l); err != nil {
			bad = append(bad, id)
			continue
		}
		e.failures[id] = l.Failures
		if !l.Until.IsZero() {
			e.locked[id] = l.Until
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("till: restore lockouts: records of %v do not decode", bad)
	}
	return nil
}

// needSupervisor runs then at once when the cashier is a supervisor, and otherwise asks for
// a supervisor's number and PIN first.
func (e *Engine) needSupervisor(what string, now time.Time, then func(sup *Cashier, now time.Time) Output) Output {
	if e.cashier.Role == RoleSupervisor {
		return then(e.cashier, now)
	}
	e.pending = &pendingAction{what: what, then: then, back: e.mode}
	e.mode = modeSupervisorID
	return e.show(e.prompt(), "")
}

func (e *Engine) supervisorKey(k Key, now time.Time) Output {
	if k != KeyEnter {
		return e.refuse(k.String() + " is not used here")
	}
	if e.mode == modeSupervisorID {
		id := e.takeInput()
		if id == "" {
			return e.refuse("type the supervisor's number")
		}
		e.pending.supID = id
		e.mode = modeSupervisorPIN
		return e.show(e.prompt(), "")
	}
	p := e.pending
	sup, err := e.authenticate(p.supID, e.takeInput(), now)
	if err == "" && sup.Role != RoleSupervisor {
		err = "cashier " + sup.ID + " is not a supervisor"
	}
	if err != "" {
		e.mode, e.pending = p.back, nil
		if e.mode == modeAsk && e.step != nil {
			e.leaveAsk()
		}
		return e.pinFailed(p.supID, err, now)
	}
	e.mode, e.pending = p.back, nil
	out := p.then(sup, now)
	return e.withLockoutCleared(out)
}

// withLockoutCleared deletes the failure record of an id that just signed on or approved.
func (e *Engine) withLockoutCleared(out Output) Output {
	if id := e.clearLockout; id != "" {
		e.clearLockout = ""
		out.Save = append(out.Save, Record{Bucket: BucketLockout, Key: id})
	}
	return out
}

func (e *Engine) signOff(now time.Time) Output {
	if e.sale != nil {
		return e.refuse("finish or park the sale before signing off")
	}
	out := e.show("signed off: "+e.cashier.Name, "")
	out.Commit = e.technical(journal.KindSignOff, "", now)
	e.cashier = nil
	e.mode = modeSignedOff
	return out
}

// technical makes a journal commit of a technical kind: no receipt, nothing printed, and the
// engine does not wait for it (Committed is not needed).
func (e *Engine) technical(kind journal.Kind, reason string, now time.Time) *Commit {
	c := &Commit{Entry: journal.Entry{Kind: kind, At: now, Reason: reason}}
	if e.cashier != nil {
		c.Entry.Cashier = e.cashier.ID
	}
	return c
}
