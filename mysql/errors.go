package mysql

import (
	"errors"
	"fmt"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ErrPositionLost means the server can no longer serve the stored position:
// the binlogs holding the transactions after it were purged, or the position
// is not in this server's history at all (a diverged replica, another
// cluster). Resuming anywhere else would silently skip or repeat changes, so
// the connector needs a new snapshot or an operator's decision. The wrapping
// error names the shard and the GTID set.
var ErrPositionLost = errors.New("binlog position lost")

// ErrAccessDenied means the server rejected the configured user: a wrong
// password, a locked or expired account, a host the user may not connect
// from, or a missing privilege. The wrapping error names the user and the
// address, never the password.
var ErrAccessDenied = errors.New("access denied")

// ErrServerIDClash: the server dropped a replication connection because
// another replica registered with the same server_id (or this reader's own
// previous connection is not yet gone).
var ErrServerIDClash = errors.New("another replica uses this server_id")

// ErrUndecodable marks a value or event Tidemark cannot turn into exact
// canonical values (an ENUM index beyond its members, a malformed temporal
// value, a partial JSON update): the same bytes fail again, so retrying
// cannot help, and dropping the value would silently lose data.
var ErrUndecodable = errors.New("cannot decode exactly")

// ErrQueryTimeout: a metadata query did not finish within its bound (the
// server is overloaded or the network is gone without closing the socket).
var ErrQueryTimeout = errors.New("query timed out")

// ErrConnectionLost: a statement's connection broke before the server
// answered (the server restarted, the network reset it): not the server
// refusing the statement. The next statement reconnects, so retrying heals
// it once the server is back.
var ErrConnectionLost = errors.New("connection lost")

// ServerErrorCode returns the MySQL error code of a server error in err's
// chain (1045 for access denied, ...).
func ServerErrorCode(err error) (uint16, bool) {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		return me.Code, true
	}
	return 0, false
}

// undecodable wraps err with ErrUndecodable.
// ErrSchemaUnknown: the shape of a table at an event cannot be known
// exactly (without binlog_row_metadata=FULL the table changed after the
// event was written; a column whose charset or members are unknown).
// Decoding it anyway would give wrong values.
var ErrSchemaUnknown = errors.New("table shape at this event is unknown")

// Mark returns err, matching sentinel for errors.Is as well, without adding
// the sentinel's text to the message (which already says what happened).
func Mark(sentinel, err error) error {
	if err == nil {
		return nil
	}
	return &markedError{sentinel: sentinel, err: err}
}

type markedError struct{ sentinel, err error }

func (e *markedError) Error() string   { return e.err.Error() }
func (e *markedError) Unwrap() []error { return []error{e.sentinel, e.err} }

func undecodable(err error) error { return fmt.Errorf("%w: %w", ErrUndecodable, err) }

// erSlaveSameID is MariaDB's ER_SLAVE_SAME_ID; MySQL reports the same
// condition as error 1236 with a message.
const erSlaveSameID = 4052

// positionLostMessage reports whether an error 1236 means the server does
// not have the requested position: purged binlogs (MySQL, MariaDB), a GTID
// not in the binlog or a diverged history (MariaDB), a missing first binlog.
func positionLostMessage(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"purged", "not in the master's binlog", "not in the binlog", "could not find gtid state",
		"diverged", "could not find first log file", "missing transactions", "errant"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// UnrecoverableCodes are the server error codes that reconnecting cannot fix,
// in the spirit of Vitess vreplication's isUnrecoverableError: an explicit
// allow-list, so that every other server error (too many connections, server
// shutting down, connection killed, lock wait...) is retried.
var UnrecoverableCodes = map[uint16]string{
	gomysql.ER_DBACCESS_DENIED_ERROR:             "database access denied",
	gomysql.ER_ACCESS_DENIED_ERROR:               "access denied",
	gomysql.ER_TABLEACCESS_DENIED_ERROR:          "table access denied",
	gomysql.ER_COLUMNACCESS_DENIED_ERROR:         "column access denied",
	gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:      "missing privilege",
	gomysql.ER_HOST_IS_BLOCKED:                   "host blocked (FLUSH HOSTS)",
	gomysql.ER_HOST_NOT_PRIVILEGED:               "host not allowed to connect",
	gomysql.ER_NOT_SUPPORTED_AUTH_MODE:           "authentication method not supported",
	gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG: "server cannot serve the requested binlog position",
	gomysql.ER_UNKNOWN_SYSTEM_VARIABLE:           "unknown system variable",
	gomysql.ER_NOT_SUPPORTED_YET:                 "not supported by this server",
	1698:                                         "access denied without password", // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	1820:                                         "password expired",               // ER_MUST_CHANGE_PASSWORD
	1862:                                         "password expired",               // ER_MUST_CHANGE_PASSWORD_LOGIN
	3118:                                         "account locked",                 // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
	4151:                                         "account locked",                 // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
}

// accessDeniedCodes are the unrecoverable codes that mean "this user may not
// do this", reported as ErrAccessDenied.
var accessDeniedCodes = map[uint16]bool{
	gomysql.ER_DBACCESS_DENIED_ERROR: true, gomysql.ER_ACCESS_DENIED_ERROR: true,
	gomysql.ER_TABLEACCESS_DENIED_ERROR: true, gomysql.ER_COLUMNACCESS_DENIED_ERROR: true,
	gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR: true, gomysql.ER_HOST_NOT_PRIVILEGED: true,
	gomysql.ER_NOT_SUPPORTED_AUTH_MODE: true, 1698: true, 1820: true, 1862: true, 3118: true, 4151: true,
}

// ServerContext is what ClassifyServerError names in its errors.
type ServerContext struct {
	User     string
	Addr     string
	ServerID uint32 // the replica server_id presented (binlog connections)
	GTIDSet  string // the position requested (binlog connections)
}

// ClassifyServerError turns the server errors callers branch on into this
// package's sentinels: a lost position (naming the GTID set), a rejected
// user (naming user and address, never the password), a server_id clash.
// Other errors are returned as they are. Callers add the shard and what was
// being done.
func ClassifyServerError(err error, sc ServerContext) error {
	var me *gomysql.MyError
	if !errors.As(err, &me) {
		return err
	}
	switch {
	case me.Code == erSlaveSameID || (me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG &&
		strings.Contains(me.Message, "same server_uuid/server_id")):
		// Not a position problem: another replica (or this reader's
		// previous connection, not yet gone) uses our server_id.
		return fmt.Errorf("server_id %d: server error %d: %s: %w", sc.ServerID, me.Code, me.Message, ErrServerIDClash)
	case me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG && positionLostMessage(me.Message):
		return fmt.Errorf("the server cannot stream from GTID set %q: server error %d: %s: %w", sc.GTIDSet, me.Code, me.Message, ErrPositionLost)
	case me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
		return fmt.Errorf("from GTID set %q: %w", sc.GTIDSet, err)
	case accessDeniedCodes[me.Code]:
		return fmt.Errorf("user %q at %s: server error %d: %s: %w", sc.User, sc.Addr, me.Code, me.Message, ErrAccessDenied)
	}
	return err
}
