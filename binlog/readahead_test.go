package binlog

import (
	"context"
	"net"
	"testing"
	"time"
)

// readAheadPipe is a server writing n bytes to a readAhead-wrapped client
// connection; reads of the client report their byte counts on the channel.
func readAheadPipe(t *testing.T, ra *readAhead, n int) (*readAheadConn, chan int) {
	t.Helper()
	server, client := net.Pipe()
	go func() {
		chunk := make([]byte, 64<<10)
		for sent := 0; sent < n; sent += len(chunk) {
			if _, err := server.Write(chunk); err != nil {
				return
			}
		}
		server.Close()
	}()
	conn, err := ra.dial(func(context.Context, string, string) (net.Conn, error) { return client, nil })(context.Background(), "tcp", "x")
	if err != nil {
		t.Fatal(err)
	}
	c := conn.(*readAheadConn)
	t.Cleanup(func() { c.Close() })
	reads := make(chan int, 1024)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			if k > 0 {
				reads <- k
			}
			if err != nil {
				close(reads)
				return
			}
		}
	}()
	return c, reads
}

func drain(reads chan int, within time.Duration) (n int) {
	for {
		select {
		case k, ok := <-reads:
			if !ok {
				return n
			}
			n += k
		case <-time.After(within):
			return n
		}
	}
}

// Reading stops at the bound while the reader is busy, and goes on as the
// reader takes events.
func TestReadAheadStopsAtTheBound(t *testing.T) {
	ra := newReadAhead(1 << 20)
	_, reads := readAheadPipe(t, ra, 4<<20)
	if got := drain(reads, 200*time.Millisecond); got < 1<<20 || got > 1<<20+64<<10 {
		t.Fatalf("read %d bytes ahead of a busy reader, want the 1 MiB bound (+ one read)", got)
	}
	ra.take(512 << 10)
	if got := drain(reads, 200*time.Millisecond); got == 0 || got > 512<<10+64<<10 {
		t.Fatalf("after taking 512 KiB: %d more bytes read", got)
	}
}

// A reader waiting for an event has drained its channel: reading goes on,
// so one event larger than the bound gets through.
func TestReadAheadLetsAWaitingReaderThrough(t *testing.T) {
	ra := newReadAhead(1 << 20)
	_, reads := readAheadPipe(t, ra, 4<<20)
	drain(reads, 100*time.Millisecond)
	ra.wait(true)
	if got := drain(reads, 2*time.Second); got < 3<<20-64<<10 {
		t.Fatalf("a waiting reader got %d more bytes, want the remaining ~3 MiB", got)
	}
}

// go-mysql closes a stream by setting a read deadline: a read held at the
// bound must return, not hang the close.
func TestReadAheadReleasesOnDeadline(t *testing.T) {
	ra := newReadAhead(1 << 20)
	c, reads := readAheadPipe(t, ra, 4<<20)
	drain(reads, 100*time.Millisecond)
	c.SetReadDeadline(time.Now())
	for range reads { // the pipe's deadline error ends the reads
	}
}
