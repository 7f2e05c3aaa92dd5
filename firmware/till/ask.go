package till

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// askStep is one question to the cashier: the prompt, what ENTER does with the typed input,
// and optionally what a scan or another key does. CLEAR with nothing typed goes back to
// back (cancel, when set, says how).
type askStep struct {
	prompt string
	enter  func(in string, now time.Time) Output
	scan   func(s Scan, now time.Time) Output
	keys   map[Key]func(now time.Time) Output
	back   mode
	cancel func() Output
	t9     bool   // the input is letters on the digit keys (shown as such)
	hint   string // line 2 while nothing is typed: how to answer
}

// ask puts a question; the answer comes through askKey.
func (e *Engine) ask(st askStep) Output {
	e.input = ""
	e.step = &st
	e.mode = modeAsk
	return e.show(st.prompt, "")
}

func (e *Engine) askKey(k Key, now time.Time) Output {
	st := e.step
	if k == KeyEnter {
		return st.enter(e.takeInput(), now)
	}
	if f := st.keys[k]; f != nil {
		return f(now)
	}
	return e.refuse(k.String() + " is not used here: CLEAR goes back")
}

// leaveAsk ends the question and returns to the mode it was asked from.
func (e *Engine) leaveAsk() {
	if e.mode == modeAsk && e.step != nil {
		e.mode = e.step.back
	}
	e.step = nil
}

// choose asks for one of options by number; then gets the chosen one.
func (e *Engine) choose(title string, options []string, back mode, then func(choice string, now time.Time) Output) Output {
	var os []string
	for i, o := range options {
		os = append(os, fmt.Sprintf("%d %s", i+1, o))
	}
	return e.ask(askStep{prompt: title + ": " + strings.Join(os, ", ") + " + ENTER", back: back,
		enter: func(in string, now time.Time) Output {
			n, err := strconv.Atoi(in)
			if err != nil || n < 1 || n > len(options) {
				return e.refuse(fmt.Sprintf("choose 1-%d", len(options)))
			}
			e.leaveAsk()
			return then(options[n-1], now)
		}})
}
