package binlog

import (
	"bytes"
	"context"
	"fmt"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
)

// Transactions are tracked from their GTID event to their end: an XID event,
// a COMMIT (or ROLLBACK) query, the single statement of a DDL or other
// standalone group, an XA prepare, or failing all of these the next GTID
// event. The position (s.pos) only advances at these ends.

// txState is the transaction being read.
type txState struct {
	active   bool
	explicit bool // BEGIN (or "... START TRANSACTION") seen: ends at XID/COMMIT
	gtid     string
	maria    mysql.MariaGTID
	sid      uuid.UUID
	tag      gomysql.Tag
	gno      int64
	commitUS int64 // commit time, µs since the epoch (0 unknown)
	thread   int64 // originating connection id, -1 unknown
	seq      int64 // events generated so far: TxSeq of the latest
	put      int64 // events Put so far
	skip     int64 // events already Put before a reconnect: drop that many
}

func (s *session) beginMariaDB(ctx context.Context, h *replication.EventHeader, e *replication.MariadbGTIDEvent) error {
	g := mysql.MariaGTID{Domain: e.GTID.DomainID, Server: e.GTID.ServerID, Seq: e.GTID.SequenceNumber}
	if err := s.begin(ctx, g.String(), int64(h.Timestamp)*microsPerSecond); err != nil {
		return err
	}
	s.tx.maria = g
	// A standalone group (DDL, or a statement without BEGIN) has no COMMIT:
	// its single statement ends it.
	s.tx.explicit = !e.IsStandalone()
	return nil
}

func (s *session) beginMySQL(ctx context.Context, h *replication.EventHeader, e *replication.GTIDEvent) error {
	sid, err := uuid.FromBytes(e.SID)
	if err != nil || sid == (uuid.UUID{}) || h.EventType == replication.ANONYMOUS_GTID_EVENT {
		return mark(ErrServerSetting, fmt.Errorf("binlog: shard %s: anonymous (GTID-less) transaction at %s:%d: set gtid_mode=ON", s.cfg.Shard, s.file, h.LogPos))
	}
	commit := int64(e.OriginalCommitTimestamp)
	if commit == 0 {
		commit = int64(h.Timestamp) * microsPerSecond
	}
	if err := s.begin(ctx, mysql.MySQLGTIDText(sid, e.Tag, e.GNO), commit); err != nil {
		return err
	}
	s.tx.sid, s.tx.tag, s.tx.gno = sid, e.Tag, e.GNO
	return nil
}

func (s *session) begin(ctx context.Context, gtid string, commitUS int64) error {
	if s.tx.active {
		// The previous group had no terminator we recognise: the GTID event
		// of the next one proves it is complete.
		if err := s.endTx(ctx, nil); err != nil {
			return err
		}
	}
	s.tx = txState{active: true, gtid: gtid, commitUS: commitUS, thread: -1}
	if s.partial.put > 0 {
		if gtid != s.partial.gtid {
			return mark(ErrHistoryDiverged, fmt.Errorf("binlog: shard %s: after reconnecting, the server sent transaction %s first, but %d events of transaction %s were already emitted; the binlog history changed (failover?), so resuming exactly is impossible",
				s.cfg.Shard, gtid, s.partial.put, s.partial.gtid))
		}
		s.tx.skip = s.partial.put
		s.partial.gtid, s.partial.put = "", 0
	}
	s.m.transactions.Inc()
	s.observeLag(commitUS, time.Now())
	return nil
}

var (
	qBegin    = []byte("BEGIN")
	qCommit   = []byte("COMMIT")
	qRollback = []byte("ROLLBACK")
	qStartTx  = []byte("START TRANSACTION")
	qXA       = []byte("XA ")
)

func (s *session) query(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent) error {
	q := bytes.TrimSpace(e.Query)
	switch {
	case bytes.EqualFold(q, qBegin):
		s.tx.explicit = true
		s.tx.thread = int64(e.SlaveProxyID)
		return nil
	case bytes.EqualFold(q, qCommit):
		return s.endTx(ctx, h)
	case bytes.EqualFold(q, qRollback):
		// A transaction that changed a non-transactional (MyISAM) table
		// and was rolled back: the binlog keeps it because those changes
		// stay. The reader cannot tell which rows were rolled back; it
		// emitted them already (it never buffers a transaction).
		if s.tx.seq > 0 {
			s.warn("rollback_after_emit", fmt.Sprintf("transaction %s ended with ROLLBACK after its rows were emitted; rows of transactional tables in it did not persist", s.tx.gtid))
		}
		return s.endTx(ctx, h)
	case len(q) > 3 && bytes.EqualFold(q[:3], qXA):
		if len(q) > 9 && bytes.EqualFold(q[3:9], []byte("START ")) {
			s.tx.explicit = true
			return nil
		}
		if len(q) > 7 && bytes.EqualFold(q[3:7], []byte("END ")) {
			return nil
		}
		if rollback, rest, ok := xaVerb(q); ok {
			if err := s.xaOutcome(rollback, rest); err != nil {
				return err
			}
			return s.endTx(ctx, h)
		}
	}
	if s.tx.thread < 0 {
		s.tx.thread = int64(e.SlaveProxyID)
	}
	// DDL (or another statement): forget what information_schema said about
	// the tables it names.
	s.tables.invalidate(string(q), string(e.Schema))
	if len(q) >= len(qStartTx) && bytes.EqualFold(q[len(q)-len(qStartTx):], qStartTx) {
		// MySQL 8 logs CREATE TABLE ... SELECT as "CREATE TABLE ...
		// START TRANSACTION", followed by its rows and an XID.
		s.tx.explicit = true
		return nil
	}
	if !s.tx.explicit {
		return s.endTx(ctx, h)
	}
	return nil
}

// endTx completes the current transaction: the position advances past it,
// and the held-back event, the transaction's last, is Put with that
// position. A transaction that emitted nothing yields a checkpoint instead
// (rate-limited).
func (s *session) endTx(ctx context.Context, h *replication.EventHeader) error {
	if !s.tx.active {
		return nil
	}
	if s.cfg.Flavor == change.FlavorMariaDB {
		s.pos.AddMaria(s.tx.maria, s.tx.gtid)
	} else {
		s.pos.AddMySQL(s.tx.sid, s.tx.tag, s.tx.gno)
	}
	s.pos.File = s.file
	s.progress++
	if h != nil && h.LogPos > 0 {
		s.pos.Pos = uint64(h.LogPos)
	}
	now := time.Now()
	s.observeLag(s.tx.commitUS, now)
	commitUS := s.tx.commitUS
	s.tx = txState{}
	if s.hasPending {
		s.pending.Position = s.pos.Position()
		s.pending.TxEnd = true
		ev := s.pending
		s.pending, s.hasPending = change.Event{}, false
		return s.put(ctx, ev)
	}
	if s.lastPutSet != s.pos.Text() && now.Sub(s.lastCheckpoint) >= s.cfg.CheckpointInterval {
		return s.putCheckpoint(ctx, commitUS, now)
	}
	return nil
}

// heartbeat: the server had nothing to send, so the reader is caught up.
// When the position moved since the last event Put (filtered transactions
// whose checkpoints were rate-limited away), Put it now.
func (s *session) heartbeat(ctx context.Context) error {
	s.m.lag.Set(0)
	if s.tx.active || s.lastPutSet == s.pos.Text() {
		return nil
	}
	return s.putCheckpoint(ctx, 0, time.Now())
}

// emit holds ev back as the transaction's latest event, Putting the one it
// replaces (which therefore was not the last).
func (s *session) emit(ctx context.Context, ev change.Event) error {
	if s.hasPending {
		if err := s.put(ctx, s.pending); err != nil {
			return err
		}
		s.tx.put++
	}
	s.pending, s.hasPending = ev, true
	return nil
}

func (s *session) put(ctx context.Context, ev change.Event) error {
	if err := s.out.Put(ctx, ev); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return mark(ErrSinkFailed, fmt.Errorf("binlog: shard %s: sink: %w", s.cfg.Shard, err))
	}
	s.progress++
	s.m.event(ev.Op)
	s.lastPutSet = ev.Position.GTIDSet
	return nil
}

// checkpointSize is the Size of an OpCheckpoint event.
const checkpointSize = 256

func (s *session) putCheckpoint(ctx context.Context, commitUS int64, now time.Time) error {
	ev := change.Event{
		Op:       change.OpCheckpoint,
		Position: s.pos.Position(),
		Source: change.Source{
			Shard: s.cfg.Shard, Connector: string(s.cfg.Flavor), File: s.pos.File, Pos: s.pos.Pos,
			Thread: -1, TsMs: commitUS / 1000,
		},
		CommitUnixMicros: commitUS,
		Size:             checkpointSize,
	}
	if err := s.put(ctx, ev); err != nil {
		return err
	}
	s.lastCheckpoint = now
	return nil
}

func (s *session) observeLag(commitUS int64, now time.Time) {
	if commitUS <= 0 {
		return
	}
	s.m.lag.Set(max(0, float64(now.UnixMicro()-commitUS)/microsPerSecond))
}

const microsPerSecond = 1_000_000
