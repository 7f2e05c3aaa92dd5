//go:build linux

package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// bootPhases times the init's boot sequence, phase by phase, for the console's
// "boot phases" line printed just before READY: where a slow boot went, on the box itself.
type bootPhases struct {
	mu    sync.Mutex
	last  time.Time
	names []string
	took  []time.Duration
}

func newBootPhases() *bootPhases { return &bootPhases{last: time.Now()} }

// done records that the phase called name ended now (it began at the previous one's end).
func (p *bootPhases) done(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.names = append(p.names, name)
	p.took = append(p.took, now.Sub(p.last))
	p.last = now
}

// String is "name 0.12s, name 0.03s, ...".
func (p *bootPhases) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for i, n := range p.names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.2fs", n, p.took[i].Seconds())
	}
	return b.String()
}
