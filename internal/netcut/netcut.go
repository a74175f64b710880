// Package netcut is a station's network in miniature: a TCP link between
// gates and the broker that a drill or a test cuts (every connection
// dropped, new ones refused) and restores, without touching the broker
// that others share. The load test's gate-offline drill and the end-to-end
// tests of offline gates use it.
package netcut

import (
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// Link forwards connections from its own loopback address to a target.
type Link struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// New listens on a free loopback port and forwards to the host of
// targetURL (e.g. "tcp://127.0.0.1:51883").
func New(targetURL string) (*Link, error) {
	u, err := url.Parse(targetURL)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if l.down.Load() {
				c.Close()
				continue
			}
			go l.pipe(c)
		}
	}()
	return l, nil
}

func (l *Link) pipe(c net.Conn) {
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	l.conns[c], l.conns[up] = struct{}{}, struct{}{}
	l.mu.Unlock()
	go func() { io.Copy(up, c); up.Close(); c.Close() }()
	io.Copy(c, up)
	c.Close()
	up.Close()
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	l.mu.Unlock()
}

// URL is the broker URL to give the gates: "tcp://127.0.0.1:<port>".
func (l *Link) URL() string { return "tcp://" + l.ln.Addr().String() }

// Cut drops every connection and refuses new ones until Restore.
func (l *Link) Cut() {
	l.down.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (l *Link) Restore() { l.down.Store(false) }

// Close stops listening and drops every connection.
func (l *Link) Close() { l.ln.Close(); l.Cut() }
