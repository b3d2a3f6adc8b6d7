package binlog

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/mysql"
)

// PrerequisiteError lists every server setting that prevents streaming, each
// naming the setting, its value and the fix. Check returns all of them at
// once so an operator fixes the server in one pass. Terminal.
type PrerequisiteError struct {
	Shard    string
	Problems []string
	causes   []error // sentinels the problems amount to (ErrPositionLost)
}

// Unwrap lets errors.Is(err, ErrPositionLost) see a lost position among the
// problems.
func (e *PrerequisiteError) Unwrap() []error { return e.causes }

func (e *PrerequisiteError) Error() string {
	var b strings.Builder
	b.WriteString("binlog: shard ")
	b.WriteString(e.Shard)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" prerequisite(s) not met: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(") ")
		b.WriteString(p)
	}
	return b.String()
}

// Sentinels callers branch on (the daemon's error classifier decides what
// each means for the shard; this package only names what happened). Every
// error the reader returns wraps at most one of them, or one of mysql's
// (ErrPositionLost, ErrAccessDenied, ErrUndecodable), a *PrerequisiteError,
// a *schema.UnsupportedTypeError or a *ConnectionError.
var (
	// ErrSchemaUnknown: the shape of a table at an event cannot be known
	// exactly (mysql.ErrSchemaUnknown, where table shapes are built).
	ErrSchemaUnknown = mysql.ErrSchemaUnknown

	// ErrServerSetting: the server violates a streaming prerequisite at run
	// time, for one event (a partial row image from a session's
	// binlog_row_image, a GTID-less transaction).
	ErrServerSetting = errors.New("server setting prevents exact streaming")

	// ErrHistoryDiverged: after reconnecting, the server sent a different
	// transaction where a partly emitted one was expected (a failover to a
	// server with another history): resuming exactly is impossible.
	ErrHistoryDiverged = errors.New("binlog history diverged")

	// ErrIncident: the server logged an incident event, saying its binlog may
	// be missing changes.
	ErrIncident = errors.New("incident event in the binlog")

	// ErrServerIDConflict: connections keep being lost to another replica
	// registered with the same server_id (mysql.ErrServerIDClash, repeated).
	ErrServerIDConflict = errors.New("server_id used by another replica")

	// ErrXARollback: an XA transaction whose rows were emitted at XA PREPARE
	// was rolled back: Kafka holds row changes that never committed.
	ErrXARollback = errors.New("XA transaction rolled back after its rows were emitted")

	// ErrHostBehind: the server has not yet logged transactions the
	// position includes, in a domain it replicates: a replica that is
	// behind (after a failover, or a configuration pointing at a replica).
	// Nothing is skipped: the reader waits until the server has them. If
	// the replica's history diverged instead, the server refuses the
	// position for good once it logs more (ErrPositionLost).
	ErrHostBehind = errors.New("server is behind the position")

	// ErrPositionNotPortable: a position without GTIDs (its server's binlog
	// file and offset, change.Position.ServerID) is to be resumed on another
	// server, where that file and offset mean nothing.
	ErrPositionNotPortable = errors.New("position without GTIDs is bound to another server")

	// ErrInvalidPosition: a stored or server position the reader cannot parse.
	ErrInvalidPosition = errors.New("invalid binlog position")

	// ErrSinkFailed: the Sink refused an event for a reason other than the
	// context (a bug of the caller's pipeline).
	ErrSinkFailed = errors.New("sink refused the event")
)

// ConnectionError is a failure of the binlog connection itself: dialing,
// the handshake, starting the dump, or reading the stream. Only these are
// reconnected in place (and only when Config.Retryable says so); a failure
// to handle an event is returned to the caller.
type ConnectionError struct{ Err error }

func (e *ConnectionError) Error() string { return e.Err.Error() }
func (e *ConnectionError) Unwrap() error { return e.Err }

// errIdle is returned when a connection delivered neither an event nor a
// heartbeat for Config.ReadTimeout while the reader was waiting: the server
// or the network is gone without closing the socket.
var errIdle = errors.New("no binlog event or heartbeat from the server within the read timeout")

// mark is mysql.Mark: err, matching sentinel for errors.Is as well.
func mark(sentinel, err error) error { return mysql.Mark(sentinel, err) }
