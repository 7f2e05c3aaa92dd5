package printertest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// IO is one scripted exchange: the bytes the driver writes, then the bytes the printer
// answers (possibly none).
type IO struct {
	W []byte
	R []byte
}

// Playback is an io.ReadWriter that plays a script: each write must continue the next
// expected W (a driver may split it across writes), and once a W is complete its R becomes
// readable. Read blocks until bytes are available or Close. Close fails if the script was
// not played to its end.
type Playback struct {
	Ops []IO

	mu      sync.Mutex
	cond    *sync.Cond
	count   int // Ops fully written
	partial int // bytes of Ops[count].W written so far
	rbuf    []byte
	closed  bool
	err     error
}

// ErrMismatch is returned by Playback.Write when the driver writes something the script
// does not expect.
var ErrMismatch = errors.New("printertest: write does not match the script")

func (p *Playback) init() {
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
}

// Write checks b against the script.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	for i := 0; i < len(b); {
		if p.count >= len(p.Ops) {
			p.err = fmt.Errorf("%w: % x written after the script ended", ErrMismatch, b[i:])
			return i, p.err
		}
		want := p.Ops[p.count].W[p.partial:]
		n := min(len(want), len(b)-i)
		if !bytes.Equal(b[i:i+n], want[:n]) {
			p.err = fmt.Errorf("%w: op %d: wrote % x, want % x", ErrMismatch, p.count, b[i:i+n], want[:n])
			return i, p.err
		}
		i += n
		p.partial += n
		if p.partial == len(p.Ops[p.count].W) {
			p.rbuf = append(p.rbuf, p.Ops[p.count].R...)
			p.count++
			p.partial = 0
			p.cond.Broadcast()
		}
	}
	return len(b), nil
}

// Read returns scripted answers, blocking until there are some or Close.
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	for len(p.rbuf) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.rbuf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.rbuf)
	p.rbuf = p.rbuf[n:]
	return n, nil
}

// Close ends the playback; it fails when a write mismatched or scripted exchanges are
// left unplayed.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	p.closed = true
	p.cond.Broadcast()
	if p.err != nil {
		return p.err
	}
	if p.count != len(p.Ops) || p.partial != 0 {
		return fmt.Errorf("printertest: playback closed after %d of %d exchanges", p.count, len(p.Ops))
	}
	return nil
}

// Record wraps a port and records the exchanges on it as a script for Playback: writes
// until the next read form one IO's W, the reads after them its R.
type Record struct {
	Port io.ReadWriter

	mu  sync.Mutex
	ops []IO
}

func (r *Record) Write(b []byte) (int, error) {
	n, err := r.Port.Write(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ops) == 0 || len(r.ops[len(r.ops)-1].R) > 0 {
		r.ops = append(r.ops, IO{})
	}
	op := &r.ops[len(r.ops)-1]
	op.W = append(op.W, b[:n]...)
	return n, err
}

func (r *Record) Read(b []byte) (int, error) {
	n, err := r.Port.Read(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > 0 {
		if len(r.ops) == 0 {
			r.ops = append(r.ops, IO{})
		}
		op := &r.ops[len(r.ops)-1]
		op.R = append(op.R, b[:n]...)
	}
	return n, err
}

// Ops returns the exchanges recorded so far.
func (r *Record) Ops() []IO {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]IO, len(r.ops))
	for i, op := range r.ops {
		out[i] = IO{W: bytes.Clone(op.W), R: bytes.Clone(op.R)}
	}
	return out
}

var (
	_ io.ReadWriteCloser = &Playback{}
	_ io.ReadWriter      = &Record{}
)
