package change

import (
	"github.com/tidemark-cdc/tidemark/schema"
)

// Op is the Debezium operation code of an event.
type Op byte

const (
	OpCreate Op = 'c'
	OpUpdate Op = 'u'
	OpDelete Op = 'd'
	OpRead   Op = 'r' // snapshot read
	// OpCheckpoint carries no row: it only advances the position (a
	// transaction whose rows were all filtered out, a server heartbeat, a DDL).
	// The router commits its Position once everything before it is acknowledged.
	OpCheckpoint Op = '.'
)

func (o Op) String() string { return string(rune(o)) }

// Row is one row image: canonical values in the table's column order.
type Row []any

// Event is one row change (or a checkpoint) of one shard.
type Event struct {
	Op Op
	// Table is the physical table's schema at the time of the change (shard
	// database name, not the logical one). Nil for OpCheckpoint.
	Table *schema.Table
	// Before is set for updates and deletes, After for creates, updates and
	// reads.
	Before, After Row
	Source        Source
	// Position is where the connector resumes once this event and every event
	// before it are durable in Kafka. Inside a transaction it is the position
	// before the transaction (a restart replays the transaction whole); on the
	// transaction's last event it includes the transaction.
	Position Position
	// TxEnd marks the transaction's last event (its Position includes the
	// transaction): where a Kafka transaction may end, since a restart
	// from the position of any other event replays its whole transaction.
	// Checkpoints are always at a boundary and need not set it.
	TxEnd bool
	// CommitUnixMicros is the source commit time in µs since the epoch (0 when
	// unknown), for latency metrics.
	CommitUnixMicros int64
	// Size is an estimate of the event's memory footprint in bytes, set by the
	// producer of the event and used for byte-bounded queues.
	Size int
}

// Source describes where an event came from: Debezium's `source` block.
type Source struct {
	Shard     string // connector/shard name; becomes source.name
	Connector string // "mysql" or "mariadb"
	Database  string // physical database name on the shard
	Table     string
	ServerID  uint32
	GTID      string // the current transaction's GTID, "" without GTIDs
	File      string // binlog file of the event
	Pos       uint64 // binlog position of the event
	Row       int    // index of the row within its rows event
	Thread    int64  // originating thread id, -1 when unknown
	TsMs      int64  // commit (or snapshot read) time, ms since the epoch
	Snapshot  string // "" while streaming; "incremental" etc. for snapshot reads
	// TxSeq is the 1-based order of this event within its transaction.
	TxSeq int64
}
