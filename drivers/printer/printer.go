package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"periph.io/x/conn/v3"

	"tillbox/drivers"
	"tillbox/drivers/codepage"
)

// Opts configures a Dev. Zero fields take the value in DefaultOpts.
type Opts struct {
	// Name is what String returns: the board's name for the printer ("receipt").
	Name string
	// Profile is the printer model. A zero Profile means DefaultProfile.
	Profile Profile
	// Timeout bounds every wait for the printer: a write, an answer to a status request,
	// an answer to a chunk's progress request while the printer reports itself ready.
	// After it, the printer counts as disconnected.
	Timeout time.Duration
	// Poll is the interval of the real-time status poll that turns cover, paper and drawer
	// changes into events on printers without automatic status back, and notices a printer
	// that stopped answering. Negative disables the poll.
	Poll time.Duration
	// Window is the number of chunks written ahead of the last confirmed one. It keeps the
	// line busy while confirmations travel back, and it bounds what can be in doubt when a
	// cable is pulled (see the package doc).
	Window int
	// Progress, if set, is called each time a job's confirmed chunk count grows, from the
	// goroutine running Print, so that the firmware can journal it. It must not block.
	Progress func(id string, printed int)
	// KeepDone is how many completed job ids the Dev remembers to answer a repeated Print
	// without printing. The ledger remembers them across restarts.
	KeepDone int
}

// DefaultOpts are the options New uses for zero fields.
var DefaultOpts = Opts{
	Name:     "printer",
	Profile:  DefaultProfile,
	Timeout:  2 * time.Second,
	Poll:     time.Second,
	Window:   4,
	KeepDone: 256,
}

// Event is a status change. It carries the whole status after the change.
type Event struct {
	Status Status
}

// Job is one print job: a document and the id that makes a retry safe. It is what the
// ledger stores.
type Job struct {
	ID  string `json:"id"`
	Doc *Doc   `json:"doc"`
	// Printed is the number of chunks an earlier run confirmed printed, as journaled
	// through Opts.Progress; after a restart printing resumes after them.
	Printed int `json:"printed,omitempty"`
}

// Result says what a job printed.
type Result struct {
	ID string `json:"id"`
	// Chunks is the number of chunks of the rendered job; Printed how many of them the
	// printer confirmed (all of them when the job is done, minus InDoubt).
	Chunks  int `json:"chunks"`
	Printed int `json:"printed"`
	// InDoubt lists chunks that were written but unconfirmed when the printer was lost.
	// They were not sent again: each may have printed or not. The printout shows a mark
	// line where they were.
	InDoubt []int `json:"in_doubt,omitempty"`
	// Resumes counts how often the job continued after an interruption.
	Resumes int `json:"resumes,omitempty"`
	// Missing lists runes no code page of the profile has (printed as fallbacks).
	Missing []rune `json:"missing,omitempty"`
	// Done: every chunk was printed or is in doubt; the job will not print again.
	Done bool `json:"done"`
}

// InDoubtMark is printed where in-doubt chunks were skipped, so that whoever reads the
// receipt knows lines above it may be missing.
const InDoubtMark = "-- printer interrupted: lines may be missing --"

// Dev is an ESC/POS receipt printer.
type Dev struct {
	opts  Opts
	pages []*codepage.Page

	rtMu sync.Mutex // one real-time request in flight, so answers match requests

	pulseMu   sync.Mutex // one drawer pulse at a time
	pulseDone time.Time  // when the last pulse's on and off times have passed

	mu      sync.Mutex
	st      Status
	changed chan struct{} // closed and replaced on every status or link change
	l       *link
	jobs    map[string]*job
	done    []string // completed ids, oldest first
	busy    bool
	halt    chan struct{}
	halted  chan struct{}
	closed  bool
	// gen counts connections: it grows on every new port and every time the printer
	// stops answering. Chunks written in an earlier gen and not confirmed are in doubt,
	// even if the printer answered again before the job noticed it had gone.
	gen int

	events chan Event
	stop   chan struct{}
	wg     sync.WaitGroup
}

var _ conn.Resource = (*Dev)(nil)

type job struct {
	id        string
	doc       *Doc
	r         *Rendered
	confirmed int // chunks printed or skipped as in doubt
	written   int // chunks handed to the printer
	gen       int // Dev.gen when the written-but-unconfirmed chunks were written
	lastAck   time.Time
	res       Result
}

// New returns a printer on port. It does not fail when the printer is off or unplugged: a
// till must boot and sell without its printer; Status says Connected false until the
// printer answers. port is typically a serial port, a USB printer class file or a TCP 9100
// connection, opened by the board; New never opens or closes it.
func New(port io.ReadWriter, opts *Opts) (*Dev, error) {
	o := DefaultOpts
	if opts != nil {
		o = *opts
		if o.Name == "" {
			o.Name = DefaultOpts.Name
		}
		if o.Profile.Name == "" && len(o.Profile.CodePages) == 0 {
			o.Profile = DefaultProfile
		}
		if o.Timeout <= 0 {
			o.Timeout = DefaultOpts.Timeout
		}
		if o.Poll == 0 {
			o.Poll = DefaultOpts.Poll
		}
		if o.Window <= 0 {
			o.Window = DefaultOpts.Window
		}
		if o.KeepDone <= 0 {
			o.KeepDone = DefaultOpts.KeepDone
		}
	}
	if o.Window > maxWindow {
		return nil, fmt.Errorf("printer: new: %w: window %d (1-%d)", ErrInvalidOpts, o.Window, maxWindow)
	}
	pages, err := o.Profile.validate()
	if err != nil {
		return nil, err
	}
	if port == nil {
		return nil, fmt.Errorf("printer: new: %w: nil port", ErrInvalidOpts)
	}
	d := &Dev{
		opts:    o,
		pages:   pages,
		changed: make(chan struct{}),
		jobs:    map[string]*job{},
		events:  make(chan Event, 16),
		stop:    make(chan struct{}),
	}
	d.attach(port)
	d.refresh()
	if o.Poll > 0 && o.Profile.RealTimeStatus {
		d.wg.Add(1)
		go d.poll()
	}
	return d, nil
}

// stallFactor times Timeout without a confirmation from a printer that says it is ready
// counts as losing it.
const stallFactor = 4

// maxWindow bounds Window by the reply channel's buffer, so the reader never blocks.
const maxWindow = 64

// String names the printer.
func (d *Dev) String() string { return "printer: " + d.opts.Name + " (" + d.opts.Profile.Name + ")" }

// Status returns the last known status.
func (d *Dev) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// Events returns the status change events. The channel is buffered; when the consumer
// falls behind, the oldest event is dropped, never the newest, so the last event read is
// always the current status.
func (d *Dev) Events() <-chan Event { return d.events }

// Reattach gives the Dev a new port after the old one failed (a USB printer unplugged and
// plugged back, a TCP connection re-dialled). The board's supervisor calls it; the Dev
// never reopens ports itself. An interrupted job resumes on the next Print with its id.
func (d *Dev) Reattach(port io.ReadWriter) error {
	if port == nil {
		return fmt.Errorf("printer: reattach: %w: nil port", ErrInvalidOpts)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("printer: reattach: %w", ErrClosed)
	}
	d.mu.Unlock()
	d.attach(port)
	d.refresh()
	return nil
}

// Halt stops the running job at the next chunk boundary: no further chunk is sent, the
// chunks already sent finish printing, and Print returns ErrHalted. The printer is left
// idle with nothing half-sent; the job resumes on a later Print with its id. Halt waits at
// most Opts.Timeout for the job to stop.
func (d *Dev) Halt() error {
	d.mu.Lock()
	h, stopped := d.halt, d.halted
	if h != nil {
		select {
		case <-h:
		default:
			close(h)
		}
	}
	d.mu.Unlock()
	if stopped == nil {
		return nil
	}
	select {
	case <-stopped:
		return nil
	case <-time.After(d.opts.Timeout):
		return fmt.Errorf("printer: halt: job did not stop within %v", d.opts.Timeout)
	}
}

// Close halts, stops the status poll and forgets the port (without closing it: the board
// owns it).
func (d *Dev) Close() error {
	err := d.Halt()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	l := d.l
	d.mu.Unlock()
	close(d.stop)
	if l != nil {
		l.fail(ErrClosed)
	}
	d.wg.Wait()
	return err
}

// Print prints a job and returns when every chunk is printed, or when it cannot go on.
// A Print of an id that already completed returns the earlier Result without printing.
// A Print of an interrupted id resumes after the last confirmed chunk. While the printer
// is paused (paper out, cover open) Print waits for it as long as ctx allows; when ctx
// ends first it returns ErrPaused or ErrOffline and the job stays resumable.
func (d *Dev) Print(ctx context.Context, jb Job) (Result, error) {
	if jb.ID == "" || jb.Doc == nil {
		return Result{}, fmt.Errorf("printer: print: %w: job needs an id and a document", ErrInvalidDoc)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("printer: print %s: %w", jb.ID, ErrClosed)
	}
	if d.busy {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("printer: print %s: %w", jb.ID, ErrBusy)
	}
	j, ok := d.jobs[jb.ID]
	if ok && !j.doc.Equal(jb.Doc) {
		d.mu.Unlock()
		return Result{}, fmt.Errorf("printer: print %s: %w", jb.ID, ErrJobMismatch)
	}
	if ok && j.res.Done {
		res := j.res
		d.mu.Unlock()
		return res, nil
	}
	if !ok {
		r, err := Render(jb.Doc, &d.opts.Profile)
		if err != nil {
			d.mu.Unlock()
			return Result{}, fmt.Errorf("printer: print %s: %w", jb.ID, err)
		}
		start := min(max(jb.Printed, 0), len(r.Chunks))
		j = &job{id: jb.ID, doc: jb.Doc, r: r, confirmed: start, written: start, gen: -1,
			res: Result{ID: jb.ID, Chunks: len(r.Chunks), Printed: start, Missing: r.Missing}}
		d.jobs[jb.ID] = j
	}
	d.busy = true
	d.halt = make(chan struct{})
	d.halted = make(chan struct{})
	halt, halted := d.halt, d.halted
	d.mu.Unlock()

	err := d.run(ctx, j, halt)

	d.mu.Lock()
	j.res.Printed = j.confirmed - len(j.res.InDoubt)
	if err == nil {
		j.res.Done = true
		d.done = append(d.done, j.id)
		if len(d.done) > d.opts.KeepDone {
			delete(d.jobs, d.done[0])
			d.done = d.done[1:]
		}
	}
	res := j.res
	res.InDoubt = slices.Clone(res.InDoubt)
	d.busy = false
	d.halt, d.halted = nil, nil
	close(halted)
	d.mu.Unlock()
	if err != nil {
		return res, fmt.Errorf("printer: print %s: %w", j.id, err)
	}
	return res, nil
}

// run drives one job until it is done or cannot go on. The model (see doc.go): chunks
// are written up to Window ahead of the last confirmed one, each followed by GS r 1;
// each answer confirms the oldest unconfirmed chunk, because the printer answers GS r
// only after everything before it is processed.
func (d *Dev) run(ctx context.Context, j *job, halt chan struct{}) error {
	p := &d.opts.Profile
	n := len(j.r.Chunks)
	initDone := -1 // epoch of the link the job last sent ESC @ on
	interrupted := false
	for j.confirmed < n {
		d.mu.Lock()
		l, st, changed, gen := d.l, d.st, d.changed, d.gen
		d.mu.Unlock()

		// A printer that went away since the unconfirmed chunks were written makes them
		// doubtful: never resend them.
		if j.written > j.confirmed && (j.gen != gen || l.isDead() || !st.Connected) {
			for c := j.confirmed; c < j.written; c++ {
				j.res.InDoubt = append(j.res.InDoubt, c)
			}
			j.confirmed = j.written
			interrupted = true
			initDone = -1
			d.progress(j)
			continue
		}
		select {
		case <-halt:
			return d.haltWait(j, l)
		default:
		}
		if l.isDead() || !st.Connected {
			interrupted = interrupted || j.written > 0
			initDone = -1
			if err := d.waitChange(ctx, changed, halt, ErrOffline); err != nil {
				if errors.Is(err, ErrHalted) {
					return err
				}
				return err
			}
			d.refresh()
			continue
		}
		if p.RealTimeStatus && !st.Ready() {
			// Paused: chunks already sent stay in the printer and print when it is
			// back; send nothing new, wait for the status to change.
			if err := d.waitProgress(ctx, j, l, changed, halt, ErrPaused); err != nil {
				return err
			}
			continue
		}
		if initDone != gen {
			b := []byte{esc, '@'}
			if p.AutoStatus {
				b = append(b, gs, 'a', 0x0f)
			}
			if interrupted && j.written > 0 {
				j.res.Resumes++
				if len(j.res.InDoubt) > 0 {
					mark, _ := d.pages[0].Encode(InDoubtMark)
					b = append(b, esc, 'a', 1)
					b = append(b, mark...)
					b = append(b, lf, esc, 'a', 0)
				}
			}
			if j.written < n {
				b = append(b, j.r.Resume(j.written)...)
			}
			if err := l.write(b, d.opts.Timeout); err != nil {
				d.lost(l, err)
				continue
			}
			initDone = gen
			interrupted = false
			j.lastAck = time.Now()
			for len(l.inorder) > 0 { // answers to chunks already counted in doubt
				<-l.inorder
			}
		}
		for j.written < n && j.written-j.confirmed < d.opts.Window {
			b := j.r.Chunks[j.written].Data
			if p.InOrderStatus {
				b = append(slices.Clip(b), gs, 'r', 1)
			}
			if err := l.write(b, d.opts.Timeout); err != nil {
				// The chunk may be partly in the printer: it is in doubt like the others.
				j.written++
				j.gen = gen
				d.lost(l, err)
				break
			}
			j.written++
			j.gen = gen
			if !p.InOrderStatus {
				j.confirmed = j.written
				d.progress(j)
			}
		}
		if j.confirmed < j.written {
			if err := d.waitProgress(ctx, j, l, changed, halt, ErrPaused); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitProgress waits for the next confirmation or a status change. When neither comes
// within Timeout it asks the printer: an answer saying it is paused means keep waiting,
// no answer means the printer is lost.
func (d *Dev) waitProgress(ctx context.Context, j *job, l *link, changed, halt chan struct{}, cause error) error {
	t := time.NewTimer(d.opts.Timeout)
	defer t.Stop()
	select {
	case <-l.inorder:
		j.confirmed++
		j.lastAck = time.Now()
		d.progress(j)
		return nil
	case <-changed:
		return nil
	case <-l.dead:
		return nil
	case <-halt:
		return d.haltWait(j, l)
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", cause, ctx.Err())
	case <-t.C:
		st, err := d.refresh()
		if err != nil && !l.isDead() && d.opts.Profile.RealTimeStatus {
			return nil // refresh marked it disconnected; the loop handles it
		}
		if !d.opts.Profile.RealTimeStatus && st.Connected {
			// No way to ask: an unanswered GS r for this long means the printer is gone.
			d.lost(l, fmt.Errorf("no progress answer within %v", d.opts.Timeout))
		}
		if st.Ready() && j.confirmed < j.written && time.Since(j.lastAck) > stallFactor*d.opts.Timeout {
			// Ready but silent: the answers were lost (a printer reset between two
			// polls). Count the printer as gone once, so the chunks go in doubt.
			d.mu.Lock()
			d.gen++
			d.mu.Unlock()
		}
		return nil
	}
}

// haltWait lets the chunks already sent finish (they are in the printer's buffer and a
// half-printed job is worse than a short wait), at most Timeout.
func (d *Dev) haltWait(j *job, l *link) error {
	deadline := time.NewTimer(d.opts.Timeout)
	defer deadline.Stop()
	for j.confirmed < j.written && !l.isDead() {
		select {
		case <-l.inorder:
			j.confirmed++
			d.progress(j)
		case <-l.dead:
		case <-deadline.C:
			return ErrHalted
		}
	}
	return ErrHalted
}

func (d *Dev) waitChange(ctx context.Context, changed, halt chan struct{}, cause error) error {
	t := time.NewTimer(d.opts.Timeout)
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	case <-halt:
		return ErrHalted
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", cause, ctx.Err())
	}
	return nil
}

func (d *Dev) progress(j *job) {
	d.mu.Lock()
	j.res.Printed = j.confirmed - len(j.res.InDoubt)
	d.mu.Unlock()
	if d.opts.Progress != nil {
		d.opts.Progress(j.id, j.confirmed)
	}
}

// poll asks the printer for its status every Opts.Poll.
func (d *Dev) poll() {
	defer d.wg.Done()
	drivers.Poll(d.opts.Poll, d.stop, func() { d.refresh() })
}

// refresh asks the printer for DLE EOT 1, 2 and 4 and updates the status. It returns
// an error wrapping ErrOffline when the printer did not answer. Without real-time status,
// Connected follows the port.
func (d *Dev) refresh() (Status, error) {
	d.mu.Lock()
	l, st := d.l, d.st
	d.mu.Unlock()
	if !d.opts.Profile.RealTimeStatus {
		st.Connected = !l.isDead()
		st.Online = st.Connected
		d.setStatus(l, st)
		if !st.Connected {
			return st, l.err()
		}
		return st, nil
	}
	d.rtMu.Lock()
	defer d.rtMu.Unlock()
	for _, n := range []byte{1, 2, 4} {
		b, err := d.query(l, n)
		if err != nil {
			st.Connected = false
			d.setStatus(l, st)
			if !errors.Is(err, ErrOffline) {
				err = fmt.Errorf("%w: %w", ErrOffline, err)
			}
			return st, err
		}
		st.ApplyRealTime(n, b, d.opts.Profile.DrawerOpenHigh)
		if n == 2 && b&0x40 != 0 {
			if b3, err := d.query(l, 3); err == nil {
				st.ApplyRealTime(3, b3, d.opts.Profile.DrawerOpenHigh)
			}
		}
	}
	st.Connected = true
	d.setStatus(l, st)
	return st, nil
}

// query sends DLE EOT n and waits Timeout for the answer. The caller holds rtMu.
func (d *Dev) query(l *link, n byte) (byte, error) {
	for {
		select {
		case <-l.rt: // a late answer to an earlier request that timed out
			continue
		default:
		}
		break
	}
	if err := l.write([]byte{dle, eot, n}, d.opts.Timeout); err != nil {
		d.lost(l, err)
		return 0, err
	}
	t := time.NewTimer(d.opts.Timeout)
	defer t.Stop()
	select {
	case b := <-l.rt:
		return b, nil
	case <-l.dead:
		return 0, l.err()
	case <-t.C:
		return 0, fmt.Errorf("no answer to DLE EOT %d within %v", n, d.opts.Timeout)
	}
}

// setStatus stores st if it came from the current link and announces a change.
func (d *Dev) setStatus(l *link, st Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l != d.l || st == d.st {
		return
	}
	if d.st.Connected && !st.Connected {
		d.gen++
	}
	d.st = st
	d.broadcast()
	drivers.SendNewest(d.events, Event{Status: st})
}

// broadcast wakes everything waiting on d.changed. The caller holds mu.
func (d *Dev) broadcast() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// lost marks l failed and the printer disconnected.
func (d *Dev) lost(l *link, err error) {
	l.fail(err)
	d.mu.Lock()
	st := d.st
	d.mu.Unlock()
	st.Connected = false
	d.setStatus(l, st)
}

func (d *Dev) attach(port io.ReadWriter) {
	d.mu.Lock()
	old := d.l
	epoch := 0
	if old != nil {
		epoch = old.epoch + 1
	}
	l := newLink(port, epoch, d.onAuto)
	d.l = l
	d.gen++
	d.broadcast()
	d.mu.Unlock()
	if old != nil {
		old.fail(errors.New("replaced by a new port"))
	}
	if d.opts.Profile.AutoStatus {
		_ = l.write([]byte{gs, 'a', 0x0f}, d.opts.Timeout)
	}
}

// onAuto applies an automatic status back from link l.
func (d *Dev) onAuto(l *link, b [4]byte) {
	d.mu.Lock()
	st := d.st
	d.mu.Unlock()
	st.ApplyAuto(b, d.opts.Profile.DrawerOpenHigh)
	st.Connected = true
	d.setStatus(l, st)
}

// link is one port with its reader and writer goroutines. A link that failed stays
// failed; a new port is a new link.
type link struct {
	rw      io.ReadWriter
	epoch   int
	wq      chan writeReq
	urgent  chan writeReq // real-time commands, written before anything waiting in wq
	rt      chan byte     // answers to DLE EOT
	inorder chan byte     // answers to GS r 1
	dead    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	cause   error
}

type writeReq struct {
	b    []byte
	done chan error
}

func newLink(rw io.ReadWriter, epoch int, onAuto func(*link, [4]byte)) *link {
	l := &link{
		rw:      rw,
		epoch:   epoch,
		wq:      make(chan writeReq, 8),
		urgent:  make(chan writeReq, 1),
		rt:      make(chan byte, 8),
		inorder: make(chan byte, maxWindow+8),
		dead:    make(chan struct{}),
	}
	go l.writer()
	go l.reader(onAuto)
	return l
}

// writer performs writes so that a write blocked on a stalled port (flow control, a
// vanished USB device) never blocks the caller beyond its timeout. Each request is one
// Write, so a real-time command from the urgent queue lands between two chunks, never
// inside a command. The goroutine ends when the link fails and the write returns; if the
// port never returns, it ends when the board closes the port.
func (l *link) writer() {
	for {
		var req writeReq
		select {
		case req = <-l.urgent:
		default:
			select {
			case req = <-l.urgent:
			case req = <-l.wq:
			case <-l.dead:
				return
			}
		}
		_, err := l.rw.Write(req.b)
		req.done <- err
		if err != nil {
			l.fail(err)
			return
		}
	}
}

// reader turns the printer's bytes into replies. It ends when a read fails, which is how
// an unplugged cable or a closed port shows.
func (l *link) reader(onAuto func(*link, [4]byte)) {
	var p Parser
	buf := make([]byte, 256)
	for {
		n, err := l.rw.Read(buf)
		for _, c := range buf[:n] {
			r, ok := p.Feed(c)
			if !ok {
				continue
			}
			switch r.Kind {
			case RealTime:
				select {
				case l.rt <- r.B[0]:
				default: // nobody asked: a stray answer is dropped
				}
			case InOrder:
				select {
				case l.inorder <- r.B[0]:
				default:
				}
			case Auto:
				onAuto(l, r.B)
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			l.fail(err)
			return
		}
		select {
		case <-l.dead:
			return
		default:
		}
	}
}

// write queues b behind earlier writes and waits at most timeout for it to be written.
func (l *link) write(b []byte, timeout time.Duration) error { return l.send(l.wq, b, timeout) }

// writeFirst is write for a real-time command: b goes out before anything still queued.
func (l *link) writeFirst(b []byte, timeout time.Duration) error {
	return l.send(l.urgent, b, timeout)
}

func (l *link) send(q chan writeReq, b []byte, timeout time.Duration) error {
	if l.isDead() {
		return l.err()
	}
	req := writeReq{b: b, done: make(chan error, 1)}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case q <- req:
	case <-l.dead:
		return l.err()
	case <-t.C:
		return fmt.Errorf("write: port stalled for %v", timeout)
	}
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	case <-l.dead:
		return l.err()
	case <-t.C:
		err := fmt.Errorf("write: port stalled for %v", timeout)
		l.fail(err)
		return err
	}
}

func (l *link) fail(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.cause = err
		l.mu.Unlock()
		close(l.dead)
	})
}

func (l *link) isDead() bool {
	select {
	case <-l.dead:
		return true
	default:
		return false
	}
}

func (l *link) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Errorf("%w: %w", ErrOffline, l.cause)
}
