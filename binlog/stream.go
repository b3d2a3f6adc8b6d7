package binlog

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
)

// session is the state of one Run: it survives reconnects, so that the
// position, the table cache and a partly emitted transaction carry over to
// the next connection.
type session struct {
	r      *Reader
	cfg    *Config
	m      *shardMetrics
	out    Sink
	sql    *mysql.Conn
	tables *tableCache
	filter *rowFilter

	pos  *mysql.GTIDState // committed position; nil until resolved (zero start)
	file string           // binlog file of the events being read
	tx   txState

	// pending is the transaction's latest event, held back until the next
	// event or the end of the transaction tells whether it is the last one
	// (which carries the position after the transaction).
	pending    change.Event
	hasPending bool

	// partial is a transaction the connection was lost in after some of its
	// events were Put: the server will send it again, and that many events
	// must be dropped.
	partial struct {
		gtid string
		put  int64
	}

	lastPutSet     string    // GTID set of the last Position Put
	lastCheckpoint time.Time // when the last OpCheckpoint was Put
	progress       uint64    // transactions completed plus events Put
}

func newSession(r *Reader, out Sink) *session {
	s := &session{r: r, cfg: &r.cfg, m: r.m, out: out}
	s.sql = mysql.NewConn(r.cfg.conn())
	s.tables = newTableCache(mysql.TableEnv{Shard: r.cfg.Shard, Flavor: r.cfg.Flavor}, r.m)
	s.tables.warn = s.warn
	s.filter = &rowFilter{include: r.cfg.Include, cache: map[string]map[string]bool{}}
	return s
}

// stream runs one binlog connection until it fails. progressed reports
// whether it completed a transaction or Put an event (which resets the
// reconnect backoff: a connection failing at the same place every time must
// not).
func (s *session) stream(ctx context.Context) (progressed bool, err error) {
	start := s.progress
	defer func() { progressed = s.progress != start }()
	if s.pos == nil {
		if err := s.startFromCurrent(ctx); err != nil {
			return false, err // a *ConnectionError when the server could not be asked
		}
	}
	gset, err := s.pos.SyncSet()
	if err != nil {
		return false, mark(ErrInvalidPosition, fmt.Errorf("binlog: shard %s: position %q: %w", s.cfg.Shard, s.pos.Text(), err))
	}
	if err := s.checkSameServer(ctx); err != nil {
		return false, err
	}
	ra := newReadAhead(s.cfg.ReadAheadBytes)
	syncer := replication.NewBinlogSyncer(s.r.syncerConfig(s.filter.decode, ra))
	defer syncer.Close()
	streamer, err := syncer.StartSyncGTID(gset)
	if err != nil {
		return false, &ConnectionError{fmt.Errorf("binlog: shard %s: start binlog stream: %w", s.cfg.Shard, mysql.ClassifyServerError(err, s.cfg.server(s.pos.Text())))}
	}
	s.m.connected.Set(1)
	defer s.m.connected.Set(0)
	if s.cfg.OnStreaming != nil {
		s.cfg.OnStreaming(s.pos.Position())
	}

	// The idle watchdog cancels the connection when neither an event nor a
	// heartbeat arrives within ReadTimeout. It is paused while an event is
	// handled, so time blocked in Sink.Put (back-pressure) never counts.
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle atomic.Bool
	watchdog := time.AfterFunc(s.cfg.ReadTimeout, func() { idle.Store(true); cancel() })
	defer watchdog.Stop()
	for {
		ra.wait(true)
		ev, err := streamer.GetEvent(connCtx)
		ra.wait(false)
		watchdog.Stop()
		if err != nil {
			if ctx.Err() != nil {
				return progressed, ctx.Err()
			}
			err = s.readError(err, idle.Load())
			if errors.Is(err, mysql.ErrPositionLost) {
				if behind := s.behind(ctx); behind != nil {
					err = behind
				}
			}
			return progressed, err
		}
		ra.take(ev.Header.EventSize)
		s.m.bytes.Add(float64(ev.Header.EventSize))
		if err := s.handle(ctx, ev); err != nil {
			return progressed, err
		}
		watchdog.Reset(s.cfg.ReadTimeout)
	}
}

// readError describes a failed read of the stream. go-mysql reports some
// failures only as text, so this is where its messages become typed errors:
// a recovered panic or an unparsable event is undecodable data (the same
// bytes fail again), a checksum mismatch is a connection problem (a re-read
// may cure it), and everything else is the connection's.
func (s *session) readError(err error, idle bool) error {
	var ee *replication.EventError
	switch {
	case idle:
		return &ConnectionError{fmt.Errorf("binlog: shard %s: %w (%s)", s.cfg.Shard, errIdle, s.cfg.ReadTimeout)}
	case s.filter.panicked.Load() != nil:
		return s.filter.panicked.Load() // our own code panicked in go-mysql's goroutine
	case strings.HasPrefix(err.Error(), "panic "):
		return mark(mysql.ErrUndecodable, fmt.Errorf("binlog: shard %s: go-mysql failed to decode the binlog after %s: %w", s.cfg.Shard, s.pos.Position(), err))
	case errors.As(err, &ee) && !strings.Contains(ee.Err, "checksum"):
		return mark(mysql.ErrUndecodable, fmt.Errorf("binlog: shard %s: go-mysql cannot parse a binlog event after %s: %w", s.cfg.Shard, s.pos.Position(), err))
	}
	return &ConnectionError{fmt.Errorf("binlog: shard %s: read binlog: %w", s.cfg.Shard, mysql.ClassifyServerError(err, s.cfg.server(s.pos.Text())))}
}

// checkSameServer refuses to resume a position without GTIDs (its server's
// file and offset) on another server: the address may now lead elsewhere
// (a moved virtual IP, a DNS failover).
func (s *session) checkSameServer(ctx context.Context) error {
	if s.pos.Text() != "" || s.pos.File == "" || s.pos.ServerID == 0 {
		return nil
	}
	rows, err := s.sql.Query(ctx, "SELECT @@GLOBAL.server_id")
	if err != nil {
		return &ConnectionError{fmt.Errorf("binlog: shard %s: read the server's server_id: %w", s.cfg.Shard, err)}
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return fmt.Errorf("binlog: shard %s: SELECT @@GLOBAL.server_id returned no value", s.cfg.Shard)
	}
	if p := portabilityProblem(s.pos.Position(), rows[0][0].S, s.cfg.Addr); p != "" {
		return mark(ErrPositionNotPortable, fmt.Errorf("binlog: shard %s: %s", s.cfg.Shard, p))
	}
	return nil
}

// behind asks a MariaDB server that refused the position whether it is a
// replica that has not yet logged all of it: then the refusal is a wait
// (a retryable *ConnectionError marked ErrHostBehind), not a lost
// position. Nil when it is not, or when the server cannot be asked.
func (s *session) behind(ctx context.Context) error {
	if s.cfg.Flavor != change.FlavorMariaDB {
		return nil
	}
	rows, err := s.sql.Query(ctx, "SELECT @@GLOBAL.gtid_binlog_state, @@GLOBAL.gtid_slave_pos")
	if err != nil || len(rows) != 1 || len(rows[0]) != 2 {
		return nil
	}
	stored, err1 := mysql.ParseMariaGTIDs(s.pos.Text())
	state, err2 := mysql.ParseMariaGTIDList(rows[0][0].S)
	slavePos, err3 := mysql.ParseMariaGTIDList(rows[0][1].S)
	if errors.Join(err1, err2, err3) != nil {
		return nil
	}
	behind := mariaBehind(stored, state, slavePos)
	if len(behind) == 0 {
		return nil
	}
	return &ConnectionError{mark(ErrHostBehind, fmt.Errorf("binlog: shard %s: %s",
		s.cfg.Shard, behindMessage(s.cfg.Addr, s.pos.Text(), behind, rows[0][0].S, rows[0][1].S)))}
}

// startFromCurrent resolves a zero start position to the server's current
// one, and Puts it as a checkpoint at once: should the daemon stop before
// the first transaction, its next start must not jump over what happened in
// between.
func (s *session) startFromCurrent(ctx context.Context) error {
	stmt := "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.server_id"
	if s.cfg.Flavor == change.FlavorMySQL {
		stmt = "SELECT @@GLOBAL.gtid_executed, @@GLOBAL.server_id"
	}
	rows, err := s.sql.Query(ctx, stmt)
	if err != nil {
		return &ConnectionError{fmt.Errorf("binlog: shard %s: read the current GTID position: %w", s.cfg.Shard, err)}
	}
	if len(rows) != 1 || len(rows[0]) != 2 {
		return fmt.Errorf("binlog: shard %s: %s returned no value", s.cfg.Shard, stmt)
	}
	p := change.Position{Flavor: s.cfg.Flavor, GTIDSet: rows[0][0].S}
	if p.GTIDSet == "" {
		// No GTID yet: the position is this server's file and offset only.
		id, _ := strconv.ParseUint(rows[0][1].S, 10, 32)
		p.ServerID = uint32(id)
	}
	// File and offset are informational, and keep a position with an empty
	// GTID set (a server without transactions yet) from looking unset.
	for _, st := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} {
		if rows, err := s.sql.Query(ctx, st); err == nil && len(rows) > 0 && len(rows[0]) >= 2 {
			p.File = rows[0][0].S
			_, _ = fmt.Sscan(rows[0][1].S, &p.Pos)
			break
		} else if !s.sql.Connected() {
			return &ConnectionError{fmt.Errorf("binlog: shard %s: read the current binlog file: %w", s.cfg.Shard, err)}
		}
	}
	pos, err := mysql.NewGTIDState(s.cfg.Flavor, p)
	if err != nil {
		return mark(ErrInvalidPosition, fmt.Errorf("binlog: shard %s: current position: %w", s.cfg.Shard, err))
	}
	s.pos = pos
	s.file = p.File
	return s.putCheckpoint(ctx, 0, time.Now())
}

// connectionLost keeps what the next connection needs to resume exactly:
// the committed position is already in s.pos; a transaction cut in the
// middle is remembered with the number of its events already Put, and the
// held-back event is dropped (the server sends it again).
func (s *session) connectionLost() {
	if s.tx.active && s.tx.put > 0 {
		s.partial.gtid, s.partial.put = s.tx.gtid, s.tx.put
	}
	s.tx = txState{}
	s.pending, s.hasPending = change.Event{}, false
}

// handle dispatches one binlog event.
func (s *session) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	switch e := ev.Event.(type) {
	case *replication.RowsEvent:
		return s.rows(ctx, ev, e)
	case *replication.TableMapEvent:
		return nil // resolved lazily, at the first captured row
	case *replication.MariadbGTIDEvent:
		return s.beginMariaDB(ctx, ev.Header, e)
	case *replication.GTIDEvent:
		return s.beginMySQL(ctx, ev.Header, e)
	case *replication.GtidTaggedLogEvent:
		return s.beginMySQL(ctx, ev.Header, &e.GTIDEvent)
	case *replication.XIDEvent:
		return s.endTx(ctx, ev.Header)
	case *replication.QueryEvent:
		return s.query(ctx, ev.Header, e)
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
	case *replication.HeartbeatEvent:
		return s.heartbeat(ctx)
	case *replication.TransactionPayloadEvent:
		// MySQL binlog_transaction_compression: the whole transaction is
		// decompressed in memory by go-mysql (bounded by the transaction's
		// size, not by the reader); its events are then handled in order.
		for _, inner := range e.Events {
			if err := s.handle(ctx, inner); err != nil {
				return err
			}
		}
	case *replication.GenericEvent:
		switch ev.Header.EventType {
		case replication.XA_PREPARE_LOG_EVENT:
			// The rows of an XA transaction are in its prepare group; its
			// XA COMMIT or XA ROLLBACK comes later as a group of its own (xa.go).
			s.xaPrepare(e.Data)
			return s.endTx(ctx, ev.Header)
		case replication.INCIDENT_EVENT:
			return mark(ErrIncident, fmt.Errorf("binlog: shard %s: incident event at %s:%d: the server reports the binlog may be missing changes; the connector needs a new snapshot",
				s.cfg.Shard, s.file, ev.Header.LogPos))
		}
	}
	return nil
}

// rowFilter decides, in go-mysql's decoding goroutine, whether a rows
// event's table is captured, so that rows of other tables are never decoded.
// It calls Config.Include from that one goroutine (one connection at a time:
// a connection's goroutine ends before the next connection starts) and
// caches the answer per table id.
type rowFilter struct {
	include  func(database, table string) bool
	cache    map[string]map[string]bool // database → table → captured
	panicked atomic.Pointer[change.PanicError]
}

func (f *rowFilter) decode(e *replication.RowsEvent, data []byte) (err error) {
	// A panic of ours (in Include, say) on go-mysql's goroutine: go-mysql
	// keeps only the text of the error returned here, so the panic is kept
	// for readError to report as what it is.
	defer func() {
		if p := recover(); p != nil {
			f.panicked.Store(&change.PanicError{Stage: "binlog decode", Value: p, Stack: debug.Stack()})
			err = fmt.Errorf("panic in the rows event filter: %v", p)
		}
	}()
	pos, err := e.DecodeHeader(data)
	if err != nil {
		return err
	}
	if !f.included(e.Table) {
		return nil // Rows stays nil: the reader skips the event
	}
	return e.DecodeData(pos, data)
}

func (f *rowFilter) included(tm *replication.TableMapEvent) bool {
	if ok, found := f.cache[string(tm.Schema)][string(tm.Table)]; found { // (no allocation)
		return ok
	}
	db, table := string(tm.Schema), string(tm.Table)
	ok := !isSystemDatabase(tm.Schema) && (f.include == nil || f.include(db, table))
	tables := f.cache[db]
	if tables == nil {
		tables = map[string]bool{}
		f.cache[db] = tables
	}
	tables[table] = ok
	return ok
}

// warn reports a degraded path the reader goes on from: a WARN line, a
// metric, and Config.OnWarning (the daemon shows it in /status). Never
// silently.
func (s *session) warn(kind, msg string) {
	s.r.log.Warn(msg, "shard", s.cfg.Shard, "warning", kind)
	s.m.warnings(kind).Inc()
	if s.cfg.OnWarning != nil {
		s.cfg.OnWarning(kind, msg)
	}
}
