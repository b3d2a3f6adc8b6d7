// Package binlog tails one shard's binary log and turns its row events into
// change.Events: full before/after images as schema's canonical values, the
// table schema from the table-map event's full row metadata (information_schema
// as the fallback), transaction boundaries, and positions that only advance
// at transaction ends. It owns go-mysql's replication stream; the SQL
// connection, catalog, value conversion and GTID sets it shares with the
// snapshotter live in mysql/.
//
// A Reader checks the server's prerequisites, starts from a stored GTID
// position (or the server's current one), reconnects with backoff on
// connection loss without repeating or skipping a row, and reports a purged
// position as ErrPositionLost. A GTID position is valid on every server
// that has its transactions: a MariaDB replica with log_slave_updates logs
// the primary's transactions with their GTIDs and server_id, so the reader
// streams the same events from it; a replica that has not yet logged the
// position is waited for (ErrHostBehind), and a position without GTIDs is
// refused on another server (ErrPositionNotPortable). It does not know
// about Kafka, Avro or topics.
//
// # Data flow
//
// go-mysql's syncer reads the dump stream in its own goroutine and decodes
// each event; rows of tables outside the allow-list are not even decoded
// (rowFilter). The Run goroutine then tracks transactions (transaction.go),
// resolves each rows event's table to a *schema.Table and compiled value
// converters (tablecache.go, mysql/tablebuild.go), converts the values in place
// (mysql.Converter) and Puts one change.Event per row into the Sink.
//
// # Positions and delivery
//
// Every event of a transaction carries the position before the transaction,
// except its last, which carries the position after it: the reader holds
// each event back until the next one (or the transaction's end) shows
// whether it is the last. A restart from any event's position therefore
// replays an unfinished transaction whole and never splits it. Transactions
// without a captured row (filtered tables, DDL) produce rate-limited
// OpCheckpoint events, as do heartbeats after such transactions and the
// start from the server's current position.
//
// After a lost connection the reader resumes from the last complete
// transaction and drops the events of a partly emitted one that the server
// sends again, by their order in the transaction (Source.TxSeq). It refuses
// (terminal error) if the server then sends a different transaction first:
// after a failover to a server with another history the rows cannot be
// matched.
//
// # Memory
//
// The reader never buffers a transaction: it holds one event back, and
// go-mysql reads at most Config.EventBuffer binlog events ahead (each at most
// binlog_row_event_max_size, 8 KiB by default, unless a single row is
// larger). Row values share memory with the received binlog packet (strings
// and BLOBs are not copied); consumers must treat them as read-only. The
// exception is MySQL's binlog_transaction_compression: go-mysql decompresses
// a whole compressed transaction in memory.
//
// # Limitations
//
//   - The thread id of MariaDB transactions is unknown (Source.Thread -1):
//     MariaDB's GTID event replaces the BEGIN query that carries it.
//   - A transaction that ends with ROLLBACK (one that changed a
//     non-transactional table) is emitted like a committed one, with a
//     warning: rows are streamed before the end is known.
//   - XA transactions are emitted at XA PREPARE, as in the binlog; an XA
//     ROLLBACK of an emitted one is ErrXARollback (xa.go).
//   - Statement-based events (a session with binlog_format=STATEMENT) carry
//     no rows and are not detected at run time; Check verifies the global
//     binlog_format.
//   - TRUNCATE TABLE is a DDL statement without row events: it advances the
//     position only.
//   - Without binlog_row_metadata=FULL, schemas come from information_schema
//     and may be wrong for rows written before a DDL the reader has not yet
//     reached (see mysql/tablebuild.go).
package binlog
