package binlog

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
)

// Config is one shard's reader configuration. The zero value of every
// optional field means "the default" (see withDefaults).
type Config struct {
	Shard    string // shard name, for errors, metrics and Source.Shard
	Addr     string // host:port
	User     string
	Password string // never appears in logs, errors or String()
	Flavor   change.Flavor
	// ServerID is the replica server_id Tidemark presents to the server. It
	// must differ from the server's own and from every other replica's: the
	// server disconnects an older replica that registers with the same id.
	ServerID uint32
	TLS      *tls.Config // nil = plain
	// Include is the table allow-list; nil captures every table. Tables of
	// the system databases (mysql, information_schema, performance_schema,
	// sys) are never captured. Include is called from one goroutine at a
	// time, once per table of each transaction, so it need not be safe for
	// concurrent use but should be cheap (cache its answers).
	Include func(database, table string) bool
	// HeartbeatPeriod is how often the server sends a heartbeat when it has
	// nothing else to send (default 1s). Heartbeats keep an idle shard's
	// position and lag fresh and let the reader detect a dead connection.
	HeartbeatPeriod time.Duration
	// ReadTimeout is how long the reader waits for an event or a heartbeat
	// before it declares the connection dead and reconnects (default 30s;
	// at least 3 heartbeat periods). Time spent blocked in Sink.Put does
	// not count.
	ReadTimeout time.Duration
	// ReconnectInitialInterval and ReconnectMaxInterval bound the exponential
	// backoff between reconnect attempts (defaults 250ms and 10s);
	// ReconnectMaxElapsed caps the total time spent reconnecting without
	// receiving an event (default 5m), after which Run returns the last
	// error for the caller's supervisor to handle.
	ReconnectInitialInterval time.Duration
	ReconnectMaxInterval     time.Duration
	ReconnectMaxElapsed      time.Duration
	// ReconnectMaxAttempts, when positive, also makes Run give up after
	// that many reconnects in a row that brought no progress, returning the
	// last error: a caller with another server to move to (the daemon, for
	// a shard with several hosts) sets it to 1, so that a lost connection
	// is retried once on the same server (a blip) and then handed back.
	ReconnectMaxAttempts int
	// CheckpointInterval rate-limits the OpCheckpoint events that advance the
	// position past transactions emitting no row (filtered tables, DDL):
	// at most one per interval, plus one on each heartbeat when the position
	// moved (default 100ms).
	CheckpointInterval time.Duration
	// EventBuffer is how many binlog events go-mysql may read ahead of the
	// decoder (default 128). Together with the server's
	// binlog_row_event_max_size (8 KiB by default) it bounds the memory held
	// between the socket and the Sink; a single row larger than that is one
	// event of its own size.
	EventBuffer int
	// ReadAheadBytes bounds the bytes go-mysql reads from the socket ahead
	// of the reader (readahead.go), whatever the events' count (default
	// 16 MiB; the bound is this plus one event).
	ReadAheadBytes int64
	// AllowMinimalRowMetadata lets Check accept a server without
	// binlog_row_metadata=FULL: table schemas then come from
	// information_schema, which is wrong for rows written before some DDL
	// (see mysql/tablebuild.go). Off by default.
	AllowMinimalRowMetadata bool
	// MinBinlogRetention is the shortest binlog retention Check accepts
	// (default 24h; negative disables the check): a shorter one lets a
	// connector stopped over a weekend lose its position.
	MinBinlogRetention time.Duration
	// Retryable decides whether a lost binlog connection (a *ConnectionError)
	// is worth reconnecting in place: the daemon passes its one error
	// classifier. Nil means never: every error is returned from Run.
	Retryable func(error) bool
	// ContinueAfterXARollback makes an XA ROLLBACK of a transaction whose
	// rows were emitted at XA PREPARE a warning instead of ErrXARollback
	// (see xa.go). Off by default.
	ContinueAfterXARollback bool
	// OnWarning, when set, is told of every degraded path the reader takes
	// and goes on from (kind is a stable snake_case name, e.g.
	// "xa_rollback"); the reader also logs each at WARN and counts it in
	// tidemark_binlog_warnings_total. From Run's goroutine; must not block.
	OnWarning func(kind, message string)
	// OnStreaming, when set, is called each time a binlog connection is
	// open and streaming from a fixed position (the first time, and again
	// after every in-place reconnect), with that position: every row
	// committed from then on is captured, so this is when the shard is
	// ready. From Run's goroutine; it must not block.
	OnStreaming func(from change.Position)
	// OnReconnect, when set, is told of every lost connection the reader
	// retries itself (from Run's goroutine; it must not block), so that the
	// caller can show it, e.g. in a status page.
	OnReconnect func(err error, retryIn time.Duration)
}

// withDefaults returns a copy of c with every unset optional field set.
func (c Config) withDefaults() Config {
	if c.HeartbeatPeriod == 0 {
		c.HeartbeatPeriod = time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = max(30*time.Second, 3*c.HeartbeatPeriod)
	}
	if c.ReconnectInitialInterval == 0 {
		c.ReconnectInitialInterval = 250 * time.Millisecond
	}
	if c.ReconnectMaxInterval == 0 {
		c.ReconnectMaxInterval = 10 * time.Second
	}
	if c.ReconnectMaxElapsed == 0 {
		c.ReconnectMaxElapsed = 5 * time.Minute
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 100 * time.Millisecond
	}
	if c.EventBuffer == 0 {
		c.EventBuffer = 128
	}
	if c.ReadAheadBytes == 0 {
		c.ReadAheadBytes = 16 << 20
	}
	if c.MinBinlogRetention == 0 {
		c.MinBinlogRetention = 24 * time.Hour
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var problems []string
	if c.Shard == "" {
		problems = append(problems, "shard name is empty")
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		problems = append(problems, fmt.Sprintf("addr %q is not host:port", c.Addr))
	}
	if c.User == "" {
		problems = append(problems, "user is empty")
	}
	switch c.Flavor {
	case change.FlavorMySQL, change.FlavorMariaDB:
	default:
		problems = append(problems, fmt.Sprintf("flavor %q is not %q or %q", c.Flavor, change.FlavorMySQL, change.FlavorMariaDB))
	}
	if c.ServerID == 0 {
		problems = append(problems, "server_id is 0; choose a server_id no server or other replica uses")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat period", c.HeartbeatPeriod}, {"read timeout", c.ReadTimeout},
		{"reconnect initial interval", c.ReconnectInitialInterval}, {"reconnect max interval", c.ReconnectMaxInterval},
		{"reconnect max elapsed", c.ReconnectMaxElapsed}, {"checkpoint interval", c.CheckpointInterval},
	} {
		if d.v < 0 {
			problems = append(problems, fmt.Sprintf("%s %s is negative", d.name, d.v))
		}
	}
	if c.ReadTimeout > 0 && c.HeartbeatPeriod > 0 && c.ReadTimeout < 2*c.HeartbeatPeriod {
		problems = append(problems, fmt.Sprintf("read timeout %s is shorter than two heartbeat periods (%s)", c.ReadTimeout, c.HeartbeatPeriod))
	}
	if c.ReconnectMaxAttempts < 0 {
		problems = append(problems, fmt.Sprintf("reconnect max attempts %d is negative", c.ReconnectMaxAttempts))
	}
	if c.EventBuffer < 0 {
		problems = append(problems, fmt.Sprintf("event buffer %d is negative", c.EventBuffer))
	}
	if len(problems) > 0 {
		return fmt.Errorf("binlog config for shard %q: %s", c.Shard, strings.Join(problems, "; "))
	}
	return nil
}

// String describes the configuration without its password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("binlog.Config{Shard: %q, Addr: %q, User: %q, Password: %q, Flavor: %q, ServerID: %d, TLS: %t}",
		c.Shard, c.Addr, c.User, pw, c.Flavor, c.ServerID, c.TLS != nil)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return c.String() }

// LogValue keeps slog from printing the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("shard", c.Shard), slog.String("addr", c.Addr), slog.String("user", c.User),
		slog.String("flavor", string(c.Flavor)), slog.Any("server_id", c.ServerID), slog.Bool("tls", c.TLS != nil),
	)
}

// systemDatabases are never captured, whatever Include says: their tables
// are the server's own bookkeeping (mysql.gtid_slave_pos and friends).
var systemDatabases = map[string]bool{
	"mysql": true, "information_schema": true, "performance_schema": true, "sys": true,
}

func isSystemDatabase(db []byte) bool {
	// Avoid allocating for the common case: system names are short ASCII.
	if len(db) > len("performance_schema") {
		return false
	}
	var buf [18]byte
	for i, c := range db {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return systemDatabases[string(buf[:len(db)])]
}

// ConnConfig is the SQL connection configuration of the shard.
func (c *Config) ConnConfig() mysql.ConnConfig { return c.conn() }

// conn is the SQL connection configuration of the shard.
func (c *Config) conn() mysql.ConnConfig {
	return mysql.ConnConfig{Addr: c.Addr, User: c.User, Password: c.Password, TLS: c.TLS}
}

// server is what the shard's server errors name, at the GTID set gtidSet.
func (c *Config) server(gtidSet string) mysql.ServerContext {
	return mysql.ServerContext{User: c.User, Addr: c.Addr, ServerID: c.ServerID, GTIDSet: gtidSet}
}
