package binlog

import (
	"context"
	"net"
	"sync"
	"time"
)

// readAhead bounds, in bytes, what go-mysql reads from the socket ahead of
// the reader. go-mysql parses events in its own goroutine into a channel of
// Config.EventBuffer events, whatever their size: with 40 MB rows, 128
// buffered events would be 5 GB outside every limit. Wrapping the
// connection, readAhead stops reading from the socket (TCP then holds the
// server back, as a slow replica does) while more than Limit bytes have
// been read and not yet taken by the reader.
//
// The count is of socket bytes against event sizes, so framing (packet
// headers, TLS records) makes it drift upwards. It is reset whenever the
// reader has waited for an event for idleReset: the channel is then empty,
// and what was read belongs to the event being parsed. This also lets a
// single event larger than Limit through: the bound is Limit plus one event.
type readAhead struct {
	limit int64

	mu       sync.Mutex
	cond     *sync.Cond
	ahead    int64
	waiting  bool      // the reader is in GetEvent
	since    time.Time // ... since then
	released bool      // the connection is closing: never block again
}

// idleReset is how long the reader must have waited in GetEvent for its
// channel to count as drained.
const idleReset = 5 * time.Millisecond

func newReadAhead(limit int64) *readAhead {
	ra := &readAhead{limit: limit}
	ra.cond = sync.NewCond(&ra.mu)
	return ra
}

// dial wraps a dialer's connections.
func (ra *readAhead) dial(d func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &readAheadConn{Conn: c, ra: ra}, nil
	}
}

// take accounts for an event the reader took.
func (ra *readAhead) take(size uint32) {
	ra.mu.Lock()
	ra.ahead = max(0, ra.ahead-int64(size))
	ra.mu.Unlock()
	ra.cond.Broadcast()
}

// wait marks the reader waiting for an event (true) or done waiting.
func (ra *readAhead) wait(waiting bool) {
	ra.mu.Lock()
	ra.waiting, ra.since = waiting, time.Now()
	ra.mu.Unlock()
	if waiting {
		ra.cond.Broadcast()
	}
}

// admit blocks a socket read while the bound is reached and the reader is
// busy with what was read.
func (ra *readAhead) admit() {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for ra.ahead >= ra.limit && !ra.released {
		if ra.waiting && time.Since(ra.since) >= idleReset {
			ra.ahead = 0
			return
		}
		if ra.waiting { // re-check once the reader has waited long enough
			t := time.AfterFunc(idleReset, ra.cond.Broadcast)
			ra.cond.Wait()
			t.Stop()
			continue
		}
		ra.cond.Wait()
	}
}

func (ra *readAhead) read(n int) {
	ra.mu.Lock()
	ra.ahead += int64(n)
	ra.mu.Unlock()
}

func (ra *readAhead) release() {
	ra.mu.Lock()
	ra.released = true
	ra.mu.Unlock()
	ra.cond.Broadcast()
}

type readAheadConn struct {
	net.Conn
	ra *readAhead
}

func (c *readAheadConn) Read(p []byte) (int, error) {
	c.ra.admit()
	n, err := c.Conn.Read(p)
	c.ra.read(n)
	return n, err
}

// SetReadDeadline is how go-mysql unblocks its reading goroutine to close
// the stream (it sets no other deadline): a read waiting for the reader
// must not outlive it.
func (c *readAheadConn) SetReadDeadline(t time.Time) error {
	c.ra.release()
	return c.Conn.SetReadDeadline(t)
}

func (c *readAheadConn) Close() error {
	c.ra.release()
	return c.Conn.Close()
}
