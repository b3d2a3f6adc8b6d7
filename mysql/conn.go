package mysql

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// queryTimeout bounds one metadata query (information_schema, variables).
const queryTimeout = 30 * time.Second

// ConnConfig locates and authenticates a server.
type ConnConfig struct {
	Addr     string // host:port
	User     string
	Password string // never appears in errors
	TLS      *tls.Config
	// Target, when set, is asked at every (re)connect for the server to
	// connect to, and overrides Addr and TLS: a shard with several hosts
	// answers the one it streams from now.
	Target func() (addr string, tls *tls.Config)
	// Session are statements run on every new connection before its first
	// query (ReadSession for row queries).
	Session []string
}

// Conn is a plain SQL connection to a shard, for metadata queries beside
// the binlog stream (and the snapshot's chunk queries). It connects lazily,
// is used from one goroutine at a time, and drops the connection after a
// network error so that the next query reconnects.
type Conn struct {
	cfg  ConnConfig
	c    *client.Conn
	addr string // of the open connection, or the one last tried
}

// NewConn returns an unconnected Conn. It does no I/O.
func NewConn(cfg ConnConfig) *Conn { return &Conn{cfg: cfg, addr: cfg.Addr} }

// Value is one cell of a result: its text and whether it was NULL.
type Value struct {
	S    string
	Null bool
}

func (q *Conn) connect(ctx context.Context) error {
	if q.c != nil {
		return nil
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	addr, tlsc := q.cfg.Addr, q.cfg.TLS
	if q.cfg.Target != nil {
		addr, tlsc = q.cfg.Target()
	}
	q.addr = addr
	c, err := client.ConnectWithDialer(ctx, "tcp", addr, q.cfg.User, q.cfg.Password, "", dialer.DialContext,
		func(c *client.Conn) error {
			if tlsc != nil {
				c.SetTLSConfig(tlsc)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("connect: %w", ClassifyServerError(err, ServerContext{User: q.cfg.User, Addr: addr}))
	}
	for _, stmt := range q.cfg.Session {
		if _, err := c.Execute(stmt); err != nil {
			_ = c.Close()
			return fmt.Errorf("connect: %q: %w", stmt, ClassifyServerError(err, ServerContext{User: q.cfg.User, Addr: addr}))
		}
	}
	q.c = c
	return nil
}

// Query runs one statement and returns its rows as text. ctx cancels it by
// closing the connection.
func (q *Conn) Query(ctx context.Context, stmt string, args ...any) ([][]Value, error) {
	if err := q.connect(ctx); err != nil {
		return nil, err
	}
	var res *gomysql.Result
	if err := q.run(ctx, stmt, queryTimeout, func(c *client.Conn) (err error) {
		res, err = c.Execute(stmt, args...)
		return err
	}); err != nil {
		return nil, err
	}
	if res == nil || res.Resultset == nil {
		return nil, nil
	}
	rows := make([][]Value, len(res.Values))
	for i, row := range res.Values {
		rows[i] = make([]Value, len(row))
		for j, v := range row {
			if v.Type == gomysql.FieldValueTypeNull {
				rows[i][j].Null = true
				continue
			}
			s, _ := res.GetString(i, j)
			rows[i][j].S = strings.Clone(s) // the result buffer may be reused
		}
	}
	return rows, nil
}

// run runs one statement's exchange on the open connection within timeout.
// ctx or the timeout cancels it by closing the connection; so does any
// error that is not the server's answer (the connection is then unusable
// and the next statement reconnects). Errors name the statement and carry
// the server's error class.
func (q *Conn) run(ctx context.Context, stmt string, timeout time.Duration, exchange func(c *client.Conn) error) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := q.c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	err := exchange(c)
	if stop() && err == nil {
		return nil
	}
	var me *gomysql.MyError
	if !errors.As(err, &me) { // not a server error: the connection is unusable
		_ = c.Close()
		q.c = nil
	}
	if err == nil || ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) && parent.Err() == nil {
			return fmt.Errorf("query %q: %w after %s", abbreviate(stmt), ErrQueryTimeout, timeout)
		}
		return fmt.Errorf("query %q: %w", abbreviate(stmt), context.Cause(ctx))
	}
	if me == nil {
		return fmt.Errorf("query %q: %w: %w", abbreviate(stmt), ErrConnectionLost, err)
	}
	return fmt.Errorf("query %q: %w", abbreviate(stmt), ClassifyServerError(err, ServerContext{User: q.cfg.User, Addr: q.addr}))
}

// Connected reports whether the connection is open: after a failed Query,
// false means the connection broke (rather than the server refusing the
// statement).
func (q *Conn) Connected() bool { return q.c != nil }

// Close closes the connection; the next Query reconnects.
func (q *Conn) Close() {
	if q.c != nil {
		_ = q.c.Close()
		q.c = nil
	}
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
