package binlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
)

// Sink receives the reader's events in binlog order: the daemon's
// byte-bounded queue. Put blocks while the queue is full, which is how the
// reader is back-pressured (it never buffers more than one event); it returns
// ctx's error when ctx is done.
type Sink interface {
	Put(ctx context.Context, ev change.Event) error
}

// Reader tails one shard's binlog. It holds configuration only; each Run
// call owns its connections and state.
type Reader struct {
	cfg Config
	log *slog.Logger
	m   *shardMetrics
}

// NewReader validates cfg (filling defaults). It does no I/O and starts no
// goroutine. log and m may be nil.
func NewReader(cfg Config, log *slog.Logger, m *Metrics) (*Reader, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Reader{cfg: cfg, log: log, m: m.forShard(cfg.Shard)}, nil
}

// Run streams the shard's row changes to out from the position from (the
// server's current position when from.IsZero()) until ctx is done, when it
// returns ctx.Err(), or until an error it does not retry itself.
//
// Every event's Position is a position a later Run resumes from exactly:
// inside a transaction the position before it, on the transaction's last
// event the position after it (change.Event). Transactions without any
// captured row (filtered tables, DDL) yield rate-limited OpCheckpoint events
// so that an idle or filtered shard's position keeps moving; so does a
// heartbeat after progress, and the start from a zero position.
//
// A lost connection is retried inside Run with exponential backoff, from the
// last complete transaction; the rows of a partly emitted transaction that
// the server sends again are dropped, so a reconnect neither repeats nor
// loses a row. Only *ConnectionErrors that Config.Retryable accepts are
// retried in place; Run gives up after ReconnectMaxElapsed without receiving
// an event (or ReconnectMaxAttempts fruitless reconnects) and returns the
// last one. A MariaDB replica that refuses the position because it has not
// logged all of it yet is such a retryable error (ErrHostBehind), not a
// lost position. Every other error is returned at once
// for the caller to classify.
func (r *Reader) Run(ctx context.Context, from change.Position, out Sink) error {
	if out == nil {
		return errors.New("binlog: Run needs a Sink")
	}
	s := newSession(r, out)
	defer s.sql.Close()
	if !from.IsZero() {
		pos, err := mysql.NewGTIDState(r.cfg.Flavor, from)
		if err != nil {
			return mark(ErrInvalidPosition, fmt.Errorf("binlog: shard %s: stored position %s: %w", r.cfg.Shard, from, err))
		}
		s.pos = pos
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = r.cfg.ReconnectInitialInterval
	bo.MaxInterval = r.cfg.ReconnectMaxInterval
	bo.MaxElapsedTime = r.cfg.ReconnectMaxElapsed
	bo.Reset()
	var clashes []time.Time
	fruitless := 0 // reconnects in a row without progress
	for {
		progressed, err := s.stream(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.connectionLost()
		var ce *ConnectionError
		if !errors.As(err, &ce) || r.cfg.Retryable == nil || !r.cfg.Retryable(err) {
			return err
		}
		if errors.Is(err, mysql.ErrServerIDClash) {
			now := time.Now()
			clashes = append(clashes, now)
			for len(clashes) > 0 && now.Sub(clashes[0]) > time.Minute {
				clashes = clashes[1:]
			}
			if len(clashes) >= maxServerIDClashes {
				return mark(ErrServerIDConflict, fmt.Errorf("%w; %d connections lost to it within a minute: give the shard a server_id no other replica uses",
					err, len(clashes)))
			}
		}
		if progressed {
			bo.Reset()
			fruitless = 0
		} else {
			fruitless++
		}
		if n := r.cfg.ReconnectMaxAttempts; n > 0 && fruitless >= n {
			return fmt.Errorf("%w (no progress after %d reconnect(s))", err, fruitless)
		}
		wait := bo.NextBackOff()
		if wait == backoff.Stop {
			return fmt.Errorf("%w (no progress after reconnecting for %s)", err, r.cfg.ReconnectMaxElapsed)
		}
		r.m.reconnects.Inc()
		if r.cfg.OnReconnect != nil {
			r.cfg.OnReconnect(err, wait)
		}
		r.log.Warn("binlog connection lost; reconnecting", "shard", r.cfg.Shard, "error", err.Error(), "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// maxServerIDClashes is how many connections lost to a server_id clash
// within a minute make Run give up.
const maxServerIDClashes = 5

// syncerConfig is go-mysql's configuration for one binlog connection.
func (r *Reader) syncerConfig(decode func(*replication.RowsEvent, []byte) error, ra *readAhead) replication.BinlogSyncerConfig {
	host, portText, _ := net.SplitHostPort(r.cfg.Addr)
	port, _ := strconv.ParseUint(portText, 10, 16)
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	return replication.BinlogSyncerConfig{
		ServerID: r.cfg.ServerID, Flavor: string(r.cfg.Flavor),
		Host: host, Port: uint16(port), User: r.cfg.User, Password: r.cfg.Password, TLSConfig: r.cfg.TLS,
		// Shown as the replica's host in SHOW SLAVE HOSTS / SHOW REPLICAS.
		Localhost: "tidemark:" + r.cfg.Shard,
		// Value decoding (values.go relies on each of these):
		ParseTime:               true,     // DATETIME/TIMESTAMP as time.Time: exact, no text round trip
		TimestampStringLocation: time.UTC, // (only used without ParseTime; set for clarity)
		UseDecimal:              false,    // DECIMAL as MySQL's exact text, never a float
		RenderJSONAsMySQLText:   true,     // MySQL JSON: keep key order and number types
		HeartbeatPeriod:         r.cfg.HeartbeatPeriod,
		// Reconnects are the reader's: it resumes from its own position and
		// skips already emitted rows, which go-mysql's retry cannot.
		DisableRetrySync: true,
		DiscardGTIDSet:   true, // the reader tracks positions itself
		VerifyChecksum:   true,
		EventCacheCount:  r.cfg.EventBuffer,
		// Rows of tables outside the allow-list are not decoded at all.
		RowsEventDecodeFunc:       decode,
		PayloadDecoderConcurrency: 1,
		Dialer:                    ra.dial(dialer.DialContext),
		Logger:                    slog.New(demoteHandler{r.log.Handler()}).With("component", "go-mysql"),
	}
}

// demoteHandler logs go-mysql's messages at debug level: they are progress
// chatter or errors the reader returns itself, and the daemon's supervisor is
// the one place that logs an error.
type demoteHandler struct{ h slog.Handler }

func (d demoteHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d demoteHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d demoteHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return demoteHandler{d.h.WithAttrs(as)}
}
func (d demoteHandler) WithGroup(g string) slog.Handler { return demoteHandler{d.h.WithGroup(g)} }
