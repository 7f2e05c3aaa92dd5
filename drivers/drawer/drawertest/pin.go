package drawertest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Pin is a fake GPIO line that keeps its level, records what was driven onto it and
// delivers edges to WaitForEdge the way a Linux GPIO does: edges that happen between two
// waits collapse into one pending edge. It is safe for concurrent use.
type Pin struct {
	name string
	num  int

	mu     sync.Mutex
	level  gpio.Level
	pull   gpio.Pull
	edge   gpio.Edge
	edges  chan struct{} // capacity 1: at most one pending edge, as in the kernel's queue
	reconf chan struct{} // closed by In, so that a waiter returns false as on hardware
	outs   []gpio.Level
	onOut  func(from, to gpio.Level)
}

// NewPin returns a pin reading level l.
func NewPin(name string, num int, l gpio.Level) *Pin {
	return &Pin{name: name, num: num, level: l, edges: make(chan struct{}, 1), reconf: make(chan struct{})}
}

var _ gpio.PinIO = (*Pin)(nil)

// String implements conn.Resource.
func (p *Pin) String() string { return fmt.Sprintf("%s(%d)", p.name, p.num) }

// Halt implements conn.Resource; a fake line has nothing to stop.
func (p *Pin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.num }

// Function implements pin.Pin.
func (p *Pin) Function() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.outs) > 0 {
		return "Out/" + p.level.String()
	}
	return "In/" + p.level.String()
}

// In implements gpio.PinIn. It drops a pending edge and wakes a waiter, like a
// reconfigured kernel line.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	select {
	case <-p.edges:
	default:
	}
	close(p.reconf)
	p.reconf = make(chan struct{})
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn; a negative timeout waits for ever.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	reconf := p.reconf
	p.mu.Unlock()
	var expire <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-p.edges:
		return true
	case <-reconf:
		return false
	case <-expire:
		return false
	}
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut: the level is recorded and handed to whatever the line drives.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	from := p.level
	p.level = l
	p.outs = append(p.outs, l)
	hook := p.onOut
	p.mu.Unlock()
	if hook != nil {
		hook(from, l)
	}
	return nil
}

// PWM implements gpio.PinOut. A drawer line has no use for it.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("drawertest: PWM not supported")
}

// Outs returns every level driven with Out, oldest first.
func (p *Pin) Outs() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.outs...)
}

// Set moves the line to l, as the outside world would, raising an edge when the level
// changes in a direction the pin was configured to report.
func (p *Pin) Set(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == p.level {
		return
	}
	p.level = l
	if p.edge == gpio.BothEdges || (p.edge == gpio.RisingEdge && l == gpio.High) || (p.edge == gpio.FallingEdge && l == gpio.Low) {
		select {
		case p.edges <- struct{}{}:
		default:
		}
	}
}
