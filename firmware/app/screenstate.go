package app

import (
	"sync"

	"tillbox/firmware/till"
)

// screenState is what the simulator's screen shows besides the devices and the ledger: the
// operator display's two lines, the customer view, and the scan field. It is safe for
// concurrent use; every change signals Changed, so the screen is redrawn at once.
type screenState struct {
	mu       sync.Mutex
	operator [2]string
	customer till.CustomerView
	scanning bool   // the scan field is open
	scanText string // what is typed in it
	notice   string // the uplink's last notice (back online, sync complete)
	notices  map[string]bool
	changed  chan struct{}
}

// SetNotice keeps the uplink's last notice for the sync line.
func (s *screenState) SetNotice(n string) {
	s.mu.Lock()
	s.notice = n
	s.mu.Unlock()
	s.signal()
}

// MarkNotice records that line is a sync message on the operator display, which a later
// notice may replace.
func (s *screenState) MarkNotice(line string) {
	s.mu.Lock()
	if s.notices == nil {
		s.notices = map[string]bool{}
	}
	s.notices[line] = true
	s.mu.Unlock()
}

// IsNotice reports whether line is a sync message shown earlier.
func (s *screenState) IsNotice(line string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notices[line]
}

func newScreenState() *screenState { return &screenState{changed: make(chan struct{}, 1)} }

// screenView is one consistent reading of the screen state.
type screenView struct {
	Operator [2]string
	Customer till.CustomerView
	Scanning bool
	ScanText string
	Notice   string
}

func (s *screenState) SetOperator(l [2]string) {
	s.mu.Lock()
	s.operator = l
	s.mu.Unlock()
	s.signal()
}

func (s *screenState) SetCustomer(cv till.CustomerView) {
	s.mu.Lock()
	s.customer = cv
	s.mu.Unlock()
	s.signal()
}

func (s *screenState) SetScanField(open bool, text string) {
	s.mu.Lock()
	s.scanning, s.scanText = open, text
	s.mu.Unlock()
	s.signal()
}

func (s *screenState) View() screenView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return screenView{Operator: s.operator, Customer: s.customer, Scanning: s.scanning, ScanText: s.scanText, Notice: s.notice}
}

// Changed gets a value after one or more changes since it was last read.
func (s *screenState) Changed() <-chan struct{} { return s.changed }

func (s *screenState) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}
