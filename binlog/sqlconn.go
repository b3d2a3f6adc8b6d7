package binlog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
)

// queryTimeout bounds one metadata query (information_schema, variables).
const queryTimeout = 30 * time.Second

// sqlConn is the reader's plain SQL connection to the shard, for metadata
// queries beside the binlog stream. It connects lazily, is used from one
// goroutine, and drops the connection after a network error so that the
// next query reconnects.
type sqlConn struct {
	cfg *Config
	c   *client.Conn
}

// sqlValue is one cell of a result: its text and whether it was NULL.
type sqlValue struct {
	s    string
	null bool
}

func (q *sqlConn) connect(ctx context.Context) error {
	if q.c != nil {
		return nil
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	c, err := client.ConnectWithDialer(ctx, "tcp", q.cfg.Addr, q.cfg.User, q.cfg.Password, "", dialer.DialContext,
		func(c *client.Conn) error {
			if q.cfg.TLS != nil {
				c.SetTLSConfig(q.cfg.TLS)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("connect: %w", classifyServerError(err, q.cfg, ""))
	}
	q.c = c
	return nil
}

// query runs one statement and returns its rows as text. ctx cancels it by
// closing the connection.
func (q *sqlConn) query(ctx context.Context, stmt string, args ...any) ([][]sqlValue, error) {
	if err := q.connect(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	c := q.c
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	res, err := c.Execute(stmt, args...)
	if !stop() || err != nil {
		var me *mysql.MyError
		if !errors.As(err, &me) { // not a server error: the connection is unusable
			_ = c.Close()
			q.c = nil
		}
		if err == nil || ctx.Err() != nil {
			return nil, fmt.Errorf("query %q: %w", abbreviate(stmt), context.Cause(ctx))
		}
		return nil, fmt.Errorf("query %q: %w", abbreviate(stmt), classifyServerError(err, q.cfg, ""))
	}
	if res == nil || res.Resultset == nil {
		return nil, nil
	}
	rows := make([][]sqlValue, len(res.Values))
	for i, row := range res.Values {
		rows[i] = make([]sqlValue, len(row))
		for j, v := range row {
			if v.Type == mysql.FieldValueTypeNull {
				rows[i][j].null = true
				continue
			}
			s, _ := res.GetString(i, j)
			rows[i][j].s = strings.Clone(s) // the result buffer may be reused
		}
	}
	return rows, nil
}

func (q *sqlConn) close() {
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
