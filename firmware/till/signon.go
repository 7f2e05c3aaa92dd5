package till

import (
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
			return e.refuse(err)
		}
		e.cashier = c
		e.mode = modeIdle
		out := e.show("signed on: "+c.Name, "")
		out.Commit = e.technical(journal.KindSignOn, "", now)
		return out
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
			return nil, fmt.Sprintf("cashier %s locked until %s", id, until.Format("15:04"))
		}
		delete(e.locked, id)
		e.failures[id] = 0
	}
	c, ok := e.cat.Cashiers[id]
	if !ok || !wire.CheckPIN(c.PINHash, pin) {
		e.failures[id]++
		if e.failures[id] >= e.cfg.MaxPINFailures {
			e.locked[id] = now.Add(e.cfg.Lockout)
			return nil, fmt.Sprintf("wrong number or PIN: cashier %s locked until %s", id, e.locked[id].Format("15:04"))
		}
		return nil, fmt.Sprintf("wrong number or PIN (%d of %d tries)", e.failures[id], e.cfg.MaxPINFailures)
	}
	e.failures[id] = 0
	return &c, ""
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
		return e.refuse(err)
	}
	e.mode, e.pending = p.back, nil
	return p.then(sup, now)
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
