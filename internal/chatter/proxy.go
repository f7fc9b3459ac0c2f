package chatter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Other is the client key of connections whose source address the key
// function does not name.
const Other = "other"

// KeyFunc names the client that a connection from source IP ip belongs to
// (for example the node whose address it is); "" files it under Other.
type KeyFunc func(ip netip.Addr) string

// Counters are one client's cumulative counts through a Proxy.
type Counters struct {
	// Up is the bytes the client sent towards the upstream.
	Up uint64
	// Down is the bytes the upstream sent back to the client.
	Down uint64
	// Open is the client's connections open now.
	Open int64
	// Opened is the client's connections accepted since the proxy started.
	Opened uint64
	// DialFailures counts accepted connections whose upstream could not be
	// dialled (the client's connection was closed at once).
	DialFailures uint64
}

// Snapshot is every client's counters at one moment.
type Snapshot struct {
	// At is when the snapshot was taken (with a monotonic clock reading).
	At time.Time
	// Clients maps a client key to its counters.
	Clients map[string]Counters
}

// Total sums the counters of every client.
func (s Snapshot) Total() Counters {
	var t Counters
	for _, c := range s.Clients {
		t.Up += c.Up
		t.Down += c.Down
		t.Open += c.Open
		t.Opened += c.Opened
		t.DialFailures += c.DialFailures
	}
	return t
}

// Proxy forwards every TCP connection it accepts to one upstream address
// and counts bytes and connections per client. Counting is live: a
// snapshot taken while a long watch or a database session is open sees the
// bytes moved so far.
type Proxy struct {
	ln       net.Listener
	upstream string
	key      KeyFunc
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{}
	clients map[string]*clientCounters
	lastErr error
}

// clientCounters is the live, concurrently updated form of Counters.
type clientCounters struct {
	up, down, opened, dialFailures atomic.Uint64
	open                           atomic.Int64
}

// Listen starts a proxy that listens on addr ("127.0.0.1:0" picks a port;
// Addr tells which) and forwards to upstream. key maps a client's source
// IP to its name; nil files every client under Other.
func Listen(addr, upstream string, key KeyFunc) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("chatter proxy: listen on %s: %w (is the address local and the port free?)", addr, err)
	}
	return Serve(ln, upstream, key), nil
}

// Serve is Listen on a listener the caller made (for example inside a
// network namespace); the proxy owns ln and closes it on Close.
func Serve(ln net.Listener, upstream string, key KeyFunc) *Proxy {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln: ln, upstream: upstream, key: key, ctx: ctx, cancel: cancel,
		conns: map[net.Conn]struct{}{}, clients: map[string]*clientCounters{},
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Upstream is the address every connection is forwarded to.
func (p *Proxy) Upstream() string { return p.upstream }

// Snapshot returns every client's cumulative counters now.
func (p *Proxy) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Snapshot{At: time.Now(), Clients: make(map[string]Counters, len(p.clients))}
	for k, c := range p.clients {
		s.Clients[k] = Counters{
			Up: c.up.Load(), Down: c.down.Load(), Open: c.open.Load(),
			Opened: c.opened.Load(), DialFailures: c.dialFailures.Load(),
		}
	}
	return s
}

// LastError is the most recent failure to accept or to dial the upstream,
// nil if there was none. The proxy keeps serving after such failures; a
// caller reports this error when DialFailures grows.
func (p *Proxy) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Close stops accepting, closes every open connection, and returns once
// every goroutine of the proxy has ended. Calling it again does nothing.
func (p *Proxy) Close() error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		conns := make([]net.Conn, 0, len(p.conns))
		for c := range p.conns {
			conns = append(conns, c)
		}
		p.mu.Unlock()
		if cerr := p.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("chatter proxy: close listener %s: %w", p.ln.Addr(), cerr)
		}
		p.cancel() // ends dials in progress
		for _, c := range conns {
			_ = c.Close() // a connection may have ended on its own meanwhile
		}
		p.wg.Wait()
	})
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: note it, let the
			// kernel breathe, keep serving (as net/http does).
			p.setErr(fmt.Errorf("chatter proxy: accept on %s: %w", p.ln.Addr(), err))
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.start(c)
	}
}

// start counts an accepted connection and serves it, unless the proxy is
// closing.
func (p *Proxy) start(c net.Conn) {
	cc := p.counters(p.keyOf(c.RemoteAddr()))
	cc.opened.Add(1)
	if !p.track(c) {
		_ = c.Close()
		return
	}
	cc.open.Add(1)
	p.wg.Add(1) // the accept loop's own count keeps the group above zero
	go p.serve(c, cc)
}

func (p *Proxy) serve(client net.Conn, cc *clientCounters) {
	defer p.wg.Done()
	defer cc.open.Add(-1)
	defer p.untrackClose(client)
	var d net.Dialer
	up, err := d.DialContext(p.ctx, "tcp", p.upstream)
	if err != nil {
		cc.dialFailures.Add(1)
		p.setErr(fmt.Errorf("chatter proxy: dial upstream %s for client %s: %w (is the upstream server running and listening there?)",
			p.upstream, client.RemoteAddr(), err))
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrackClose(up)
	pipe(client, up, cc)
}

// pipe copies both ways until both directions have ended.
func pipe(client, up net.Conn, cc *clientCounters) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(up, client, &cc.up)
	}()
	copyHalf(client, up, &cc.down)
	<-done
}

// closeWriter is a connection that can send EOF while still reading
// (*net.TCPConn, *net.UnixConn).
type closeWriter interface{ CloseWrite() error }

// copyHalf copies src to dst, counting into n. When src ends cleanly the
// end is passed on as a half-close of dst, so the other direction keeps
// flowing (a client that has sent its whole request still reads the
// answer; TLS close_notify and HTTP/2 GOAWAY exchanges complete). When the
// copy fails, or dst cannot half-close, both connections are closed so
// that the other direction ends too.
func copyHalf(dst, src net.Conn, n *atomic.Uint64) {
	_, err := io.Copy(countingWriter{dst, n}, src)
	if err == nil {
		if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = dst.Close()
	_ = src.Close()
}

// countingWriter adds the bytes written through it to n as they pass.
type countingWriter struct {
	w io.Writer
	n *atomic.Uint64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(uint64(n))
	return n, err
}

// keyOf names the client at remote address a.
func (p *Proxy) keyOf(a net.Addr) string {
	if p.key == nil {
		return Other
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return Other
	}
	if k := p.key(ap.Addr().Unmap()); k != "" {
		return k
	}
	return Other
}

func (p *Proxy) counters(key string) *clientCounters {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[key]
	if !ok {
		c = &clientCounters{}
		p.clients[key] = c
	}
	return c
}

// track registers c for Close to end; false when the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrackClose(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *Proxy) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
}
