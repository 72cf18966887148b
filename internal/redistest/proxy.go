package redistest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy on a loopback port, between a client and a server,
// that injects network faults on demand: a blackhole, added latency,
// resets, refused connections. It counts the connections it accepts (the
// client's dials).
//
// It is small on purpose: the faults a cache meets are these four, and a
// proxy in the test process needs no daemon, no API and no dependency.
type Proxy struct {
	Addr   string // "127.0.0.1:PORT": give it to the client
	target string

	dials atomic.Int64

	mu      sync.Mutex // guards the fields below
	fault   fault
	latency time.Duration
	ln      net.Listener // nil while refusing
	conns   map[*proxied]struct{}
	changed chan struct{} // closed and replaced on each change of fault
	closed  bool
}

type fault uint8

const (
	pass fault = iota
	blackhole
	refuse
	hangup
)

// StartProxy starts a proxy to target ("127.0.0.1:PORT") and closes it
// when tb ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: make(map[*proxied]struct{}), changed: make(chan struct{})}
	go p.accept(ln)
	tb.Cleanup(p.Close)
	return p
}

// URL returns the redis:// URL of the proxy.
func (p *Proxy) URL() string { return "redis://" + p.Addr + "/0" }

// Dials returns how many connections the proxy has accepted.
func (p *Proxy) Dials() int64 { return p.dials.Load() }

// Blackhole stops forwarding, both ways, on every connection, open or
// new, without closing any: what a client sees when packets are dropped.
// Bytes sent meanwhile are held, and delivered after Heal, as TCP would
// retransmit them.
func (p *Proxy) Blackhole() { p.set(blackhole, 0) }

// Hangup accepts connections and closes them at once (FIN), and closes
// the open ones: what a proxy or a service-mesh sidecar (Envoy, Istio)
// does while the Redis behind it is down. Heal forwards again.
func (p *Proxy) Hangup() {
	p.set(hangup, 0)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.client.Close()
		c.server.Close()
		delete(p.conns, c)
	}
}

// Latency delays every chunk of bytes, each way, by d.
func (p *Proxy) Latency(d time.Duration) { p.set(pass, d) }

// Heal forwards again, at once.
func (p *Proxy) Heal() { p.set(pass, 0) }

// Refuse closes the listener, so that connections are refused, and resets
// the open ones: a server that is down. Heal listens again.
func (p *Proxy) Refuse() { p.set(refuse, 0) }

// Reset resets (RST) every open connection; new ones are accepted as
// before. Call it in a loop for a flapping network.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.reset()
	}
}

func (p *Proxy) set(f fault, latency time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.fault, p.latency = f, latency
	close(p.changed)
	p.changed = make(chan struct{})
	switch {
	case f == refuse && p.ln != nil:
		p.ln.Close()
		p.ln = nil
		for c := range p.conns {
			c.reset()
		}
	case f != refuse && p.ln == nil:
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			panic("redistest: proxy cannot listen on " + p.Addr + " again: " + err.Error())
		}
		p.ln = ln
		go p.accept(ln)
	}
}

// state returns the current fault and latency, and a channel closed at the
// next change.
func (p *Proxy) state() (fault, time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fault, p.latency, p.changed
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.fault = pass // held bytes go, and fail on the closed connections
	close(p.changed)
	p.changed = make(chan struct{})
	if p.ln != nil {
		p.ln.Close()
	}
	for c := range p.conns {
		c.reset()
	}
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		p.dials.Add(1)
		if f, _, _ := p.state(); f == hangup {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxied{client: client.(*net.TCPConn), server: server.(*net.TCPConn)}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.reset()
			return
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.forward(c, c.client, c.server)
		go p.forward(c, c.server, c.client)
	}
}

// proxied is one client connection and its connection to the server.
type proxied struct {
	client, server *net.TCPConn
	once           sync.Once
}

// reset closes both connections with a RST.
func (c *proxied) reset() {
	c.once.Do(func() {
		c.client.SetLinger(0)
		c.server.SetLinger(0)
		c.client.Close()
		c.server.Close()
	})
}

// chunk is bytes read from one side, and when.
type chunk struct {
	b  []byte
	at time.Time
}

// forward copies from src to dst, one chunk at a time, applying the
// proxy's fault to each: held while blackholed, delayed by the latency.
// Reading goes on meanwhile (into a queue), as a kernel buffer would.
func (p *Proxy) forward(c *proxied, src, dst *net.TCPConn) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				queue <- chunk{b[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		c.reset()
		for range queue { // let the reader end
		}
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	for ch := range queue {
		for {
			f, latency, changed := p.state()
			if f == blackhole {
				<-changed
				continue
			}
			if wait := time.Until(ch.at.Add(latency)); wait > 0 {
				select {
				case <-time.After(wait):
				case <-changed:
					continue // the fault changed: look again
				}
			}
			break
		}
		if _, err := dst.Write(ch.b); err != nil {
			return
		}
	}
}
