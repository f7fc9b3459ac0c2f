package chatter

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeKeys names two loopback addresses as nodes; the rest are Other.
func nodeKeys(ip netip.Addr) string {
	return map[string]string{"127.0.0.1": "node-a", "127.0.0.2": "node-b"}[ip.String()]
}

// upstream serves every connection with handle until the test ends and
// returns its address.
func upstream(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echoTwice reads the whole request (up to the client's half-close) and
// answers it twice over: an upstream that needs the half-close passed on.
func echoTwice(c net.Conn) {
	b, err := io.ReadAll(c)
	if err == nil {
		_, _ = c.Write(append(b, b...))
	}
}

// holdOpen reads until the connection ends.
func holdOpen(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

func startProxy(t *testing.T, up string) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", up, nodeKeys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// dialFrom connects to addr from source IP from.
func dialFrom(t *testing.T, from, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil { // a hang fails, it is not measured
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// roundTrip sends n bytes, half-closes, and reads the answer to its end.
func roundTrip(t *testing.T, c *net.TCPConn, n int) []byte {
	t.Helper()
	if _, err := c.Write(bytes.Repeat([]byte{'x'}, n)); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	return b
}

// eventually polls cond until it holds; a bound on waiting, not a
// measured time.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: still not so after 10s", what)
}

func TestProxyCountsPerClient(t *testing.T) {
	p := startProxy(t, upstream(t, echoTwice))
	conns := []struct {
		from string
		size int
	}{
		{"127.0.0.1", 100},
		{"127.0.0.1", 5000},
		{"127.0.0.2", 70000}, // more than one read buffer
		{"127.0.0.3", 1},
		{"127.0.0.4", 0}, // connects, sends nothing
	}
	for _, c := range conns {
		got := roundTrip(t, dialFrom(t, c.from, p.Addr().String()), c.size)
		if len(got) != 2*c.size {
			t.Errorf("from %s: answer of %d bytes, want %d", c.from, len(got), 2*c.size)
		}
	}
	want := map[string]Counters{
		"node-a": {Up: 5100, Down: 10200, Opened: 2},
		"node-b": {Up: 70000, Down: 140000, Opened: 1},
		Other:    {Up: 1, Down: 2, Opened: 2},
	}
	eventually(t, "every connection closed", func() bool {
		for _, c := range p.Snapshot().Clients {
			if c.Open != 0 {
				return false
			}
		}
		return true
	})
	if total := p.Snapshot().Total(); total != (Counters{Up: 75101, Down: 150202, Opened: 5}) {
		t.Errorf("total %+v, want every client's counters summed", total)
	}
	got := p.Snapshot().Clients
	if len(got) != len(want) {
		t.Errorf("clients %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("client %s: %+v, want %+v", k, got[k], w)
		}
	}
}

func TestProxyCountsOpenConnectionsLive(t *testing.T) {
	p := startProxy(t, upstream(t, holdOpen))
	a := dialFrom(t, "127.0.0.1", p.Addr().String())
	dialFrom(t, "127.0.0.1", p.Addr().String())
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two open connections and 5 bytes up, while open", func() bool {
		c := p.Snapshot().Clients["node-a"]
		return c.Open == 2 && c.Opened == 2 && c.Up == 5
	})
	a.Close()
	eventually(t, "one connection left open", func() bool {
		return p.Snapshot().Clients["node-a"].Open == 1
	})
}

// proxyGoroutines lists the stacks of goroutines running proxy code.
func proxyGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "chatter.(*Proxy)") || strings.Contains(g, "chatter.pipe") || strings.Contains(g, "chatter.copyHalf") {
			out = append(out, g)
		}
	}
	return out
}

func TestProxyCloseEndsConnectionsAndGoroutines(t *testing.T) {
	p := startProxy(t, upstream(t, holdOpen))
	var clients []*net.TCPConn
	for _, from := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.9"} {
		c := dialFrom(t, from, p.Addr().String())
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	eventually(t, "three connections open", func() bool {
		var open int64
		for _, c := range p.Snapshot().Clients {
			open += c.Open
		}
		return open == 3
	})
	if len(proxyGoroutines()) == 0 {
		t.Fatal("no proxy goroutine found while serving: the leak check below would prove nothing")
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(30 * time.Second): // a bound on a hang, not a measurement
		t.Fatal("Close did not return: it left connections or goroutines running")
	}
	for i, c := range clients {
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("client %d: read after Close gave %v, want the connection closed", i, err)
		}
	}
	eventually(t, "no proxy goroutine left after Close", func() bool { return len(proxyGoroutines()) == 0 })
	if c, err := net.Dial("tcp", p.Addr().String()); err == nil {
		c.Close()
		t.Error("the proxy still accepts after Close")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestProxyDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := startProxy(t, dead)
	c := dialFrom(t, "127.0.0.2", p.Addr().String())
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read through a proxy with no upstream succeeded")
	}
	eventually(t, "one dial failure counted", func() bool {
		c := p.Snapshot().Clients["node-b"]
		return c.DialFailures == 1 && c.Open == 0
	})
	err = p.LastError()
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "is the upstream server running") {
		t.Errorf("LastError = %v, want the upstream %s named and a hint", err, dead)
	}
}

func TestListenError(t *testing.T) {
	p := startProxy(t, "127.0.0.1:1")
	_, err := Listen(p.Addr().String(), "127.0.0.1:1", nil)
	if err == nil || !strings.Contains(err.Error(), p.Addr().String()) {
		t.Errorf("Listen on a taken port: %v, want an error naming it", err)
	}
}

// HTTP/2 over TLS through the proxy: the streams of one connection, the
// TLS close at the end, and every byte counted (the bodies at least).
func TestProxyCarriesHTTP2OverTLS(t *testing.T) {
	body := bytes.Repeat([]byte("chatter "), 8192) // 64 KiB
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(body)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	p := startProxy(t, srv.Listener.Addr().String())
	client := srv.Client()
	for i := range 3 {
		resp, err := client.Get("https://" + p.Addr().String() + "/")
		if err != nil {
			t.Fatalf("request %d through the proxy: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.ProtoMajor != 2 || !bytes.Equal(got, body) {
			t.Fatalf("request %d: proto %s, %d bytes, err %v; want HTTP/2 and the %d-byte body", i, resp.Proto, len(got), err, len(body))
		}
	}
	client.CloseIdleConnections()
	eventually(t, "the TLS connection closed through the proxy", func() bool {
		return p.Snapshot().Clients["node-a"].Open == 0
	})
	c := p.Snapshot().Clients["node-a"]
	if c.Opened != 1 || c.Down < uint64(3*len(body)) || c.Up == 0 {
		t.Errorf("counters %+v, want 1 connection, at least %d bytes down and some up", c, 3*len(body))
	}
}
