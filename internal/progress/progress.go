// Package progress shows what a long run is doing: on a terminal one live
// status line (phase, specs done/total, elapsed) redrawn in place; elsewhere
// (CI logs, pipes) plain timestamped lines, throttled so logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Printer writes progress to one writer. It is safe for concurrent use.
type Printer struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	start    time.Time
	phase    string
	status   string
	lastLine time.Time
	// Throttle is the minimum gap between two plain status lines.
	Throttle time.Duration
	now      func() time.Time
}

// New returns a Printer for w; live redraw is used only when w is a terminal.
func New(w io.Writer) *Printer {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &Printer{w: w, tty: tty, start: time.Now(), Throttle: 15 * time.Second, now: time.Now}
}

// NewPlain returns a Printer that never redraws (for tests and pipes).
func NewPlain(w io.Writer, now func() time.Time) *Printer {
	if now == nil {
		now = time.Now
	}
	return &Printer{w: w, start: now(), Throttle: 15 * time.Second, now: now}
}

func (p *Printer) elapsed() string {
	d := p.now().Sub(p.start).Round(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// Phase starts a new phase: always printed as its own line.
func (p *Printer) Phase(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase = name
	p.status = ""
	p.clearLocked()
	fmt.Fprintf(p.w, "==> [%s] %s\n", p.elapsed(), name)
}

// Status updates the current phase's status line. On a terminal it is
// redrawn in place; otherwise it is printed at most once per Throttle.
func (p *Printer) Status(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = fmt.Sprintf(format, args...)
	if p.tty {
		line := fmt.Sprintf("    [%s] %s: %s", p.elapsed(), p.phase, p.status)
		if w, _, err := term.GetSize(int(p.w.(*os.File).Fd())); err == nil && w > 4 && len(line) >= w {
			line = line[:w-1]
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		return
	}
	if now := p.now(); now.Sub(p.lastLine) >= p.Throttle {
		p.lastLine = now
		fmt.Fprintf(p.w, "    [%s] %s\n", p.elapsed(), p.status)
	}
}

// Linef prints a line that must not be throttled (a failure, a result).
func (p *Printer) Linef(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	fmt.Fprintf(p.w, "    [%s] %s\n", p.elapsed(), msg)
}

func (p *Printer) clearLocked() {
	if p.tty && p.status != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// Elapsed is the time since the Printer was made.
func (p *Printer) Elapsed() time.Duration { return p.now().Sub(p.start) }

// Every calls f with the time since the call every d until the returned stop
// is called (stop is idempotent and returns once f no longer runs). Long
// silent steps (a cold go build, a conformance pass) use it to say they are
// still working.
func Every(d time.Duration, f func(elapsed time.Duration)) (stop func()) {
	started := time.Now()
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f(time.Since(started))
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
