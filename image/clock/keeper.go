package clock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/beevik/ntp"
)

// Sources of the clock, as State reports them.
const (
	SourceNTP     = "ntp"     // set from a validated NTP response
	SourceRTC     = "rtc"     // read from the RTC at boot, not behind the last trusted time
	SourceCarried = "carried" // the last trusted time carried forward: untrusted
	SourceSystem  = "system"  // neither RTC nor a trusted time known: the clock as it was
)

// RTC is a real-time clock.
type RTC interface {
	Read() (time.Time, error)
	Write(time.Time) error
	String() string
}

// State is the clock's state for the box's status file.
type State struct {
	Source  string `json:"source"`
	Trusted bool   `json:"trusted"`
	// Server is the NTP server of the last sync, LastSync its time and Offset the
	// correction applied then.
	Server   string    `json:"server,omitempty"`
	LastSync time.Time `json:"last_sync,omitzero"`
	Offset   string    `json:"offset,omitempty"`
	RTC      string    `json:"rtc,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Keeper keeps the clock. Set, Now and Query default to the system's clock and to NTP.
type Keeper struct {
	RTC     RTC      // nil: none fitted
	Servers []string // NTP servers, "host" or "host:port", tried in order
	// Store is the file holding the last trusted time (on the data partition).
	Store string
	// Floor is a time the clock is known to be past (when the image was made).
	Floor time.Time
	// Every is the interval between syncs once synced (default an hour); Retry the
	// interval while not synced (default 30 s).
	Every, Retry time.Duration

	Set   func(time.Time) error
	Now   func() time.Time
	Query func(server string) (offset time.Duration, err error)
	// Report is called with each new state.
	Report func(State)

	mu      sync.Mutex
	state   State
	servers []string // from DHCP, tried after Servers
}

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

func (k *Keeper) report(s State) {
	k.mu.Lock()
	k.state = s
	k.mu.Unlock()
	if k.Report != nil {
		k.Report(s)
	}
}

// State is the current state.
func (k *Keeper) State() State {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

// AddServers adds servers (the DHCP lease's) to try after the configured ones.
func (k *Keeper) AddServers(s []string) {
	k.mu.Lock()
	k.servers = s
	k.mu.Unlock()
}

type stored struct {
	Trusted time.Time `json:"trusted"`
}

// LastTrusted is the last trusted time persisted in Store (zero if none).
func (k *Keeper) LastTrusted() time.Time {
	b, err := os.ReadFile(k.Store)
	if err != nil {
		return time.Time{}
	}
	var s stored
	if json.Unmarshal(b, &s) != nil {
		return time.Time{}
	}
	return s.Trusted
}

func (k *Keeper) persist(t time.Time) error {
	b, _ := json.Marshal(stored{Trusted: t.UTC()})
	tmp := k.Store + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("clock: persist: %w", err)
	}
	if err := os.Rename(tmp, k.Store); err != nil {
		return fmt.Errorf("clock: persist: %w", err)
	}
	if d, err := os.Open(filepath.Dir(k.Store)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (k *Keeper) set(t time.Time) error {
	if k.Set == nil {
		return errors.New("clock: no way to set the clock")
	}
	return k.Set(t)
}

// Boot sets the clock from the RTC, or carries the last trusted time forward, before any
// NTP: the clock is then at least max(last trusted, Floor).
func (k *Keeper) Boot() State {
	floor := k.LastTrusted()
	if k.Floor.After(floor) {
		floor = k.Floor
	}
	st := State{Source: SourceSystem}
	if k.RTC != nil {
		st.RTC = k.RTC.String()
		if t, err := k.RTC.Read(); err != nil {
			st.Error = err.Error()
		} else if !t.Before(floor) {
			if err := k.set(t); err != nil {
				st.Error = err.Error()
			} else {
				st.Source, st.Trusted = SourceRTC, true
			}
		} else {
			st.Error = fmt.Sprintf("rtc %s is behind the last trusted time %s", t.UTC().Format(time.RFC3339), floor.Format(time.RFC3339))
		}
	}
	if !st.Trusted && !floor.IsZero() && k.now().Before(floor) {
		if err := k.set(floor); err != nil {
			st.Error = err.Error()
		} else {
			st.Source = SourceCarried
		}
	}
	k.report(st)
	return st
}

func (k *Keeper) query(server string) (time.Duration, error) {
	if k.Query != nil {
		return k.Query(server)
	}
	r, err := ntp.QueryWithOptions(server, ntp.QueryOptions{Timeout: 3 * time.Second})
	if err != nil {
		return 0, err
	}
	if err := r.Validate(); err != nil {
		return 0, err
	}
	return r.ClockOffset, nil
}

// Sync asks the servers in order and sets the clock from the first valid answer; then the
// time is trusted, persisted and written to the RTC.
func (k *Keeper) Sync() (State, error) {
	k.mu.Lock()
	servers := append(append([]string(nil), k.Servers...), k.servers...)
	st := k.state
	k.mu.Unlock()
	if len(servers) == 0 {
		return st, errors.New("clock: sync: no NTP server")
	}
	var errs []error
	for _, s := range servers {
		off, err := k.query(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			continue
		}
		t := k.now().Add(off)
		if err := k.set(t); err != nil {
			errs = append(errs, fmt.Errorf("set the clock: %w", err))
			break
		}
		st = State{Source: SourceNTP, Trusted: true, Server: s, LastSync: t.UTC(), Offset: off.Round(time.Millisecond).String(), RTC: st.RTC}
		if err := k.persist(t); err != nil {
			st.Error = err.Error()
		}
		if k.RTC != nil {
			if err := k.RTC.Write(t); err != nil {
				st.Error = fmt.Sprintf("write rtc %s: %v", k.RTC, err)
			}
		}
		k.report(st)
		return st, nil
	}
	err := fmt.Errorf("clock: sync: %w", errors.Join(errs...))
	st.Error = err.Error()
	k.report(st)
	return st, err
}

// Run syncs now and then every Every (Retry until the first sync), and persists the
// trusted time as it goes, until ctx ends. kick makes it sync at once (new servers).
func (k *Keeper) Run(ctx context.Context, kick <-chan struct{}) {
	every, retry := k.Every, k.Retry
	if every <= 0 {
		every = time.Hour
	}
	if retry <= 0 {
		retry = 30 * time.Second
	}
	for {
		wait := every
		if _, err := k.Sync(); err != nil {
			wait = retry
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-time.After(wait):
		}
	}
}
