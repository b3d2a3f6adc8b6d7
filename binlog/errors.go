package binlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/schema"
)

// ErrPositionLost means the server can no longer serve the stored position:
// the binlogs holding the transactions after it were purged, or the position
// is not in this server's history at all (a diverged replica, another
// cluster). It is terminal: resuming anywhere else would silently skip or
// repeat changes, so the connector needs a new snapshot or an operator's
// decision. The wrapping error names the shard and the GTID set.
var ErrPositionLost = errors.New("binlog position lost")

// ErrAccessDenied means the server rejected the configured user: a wrong
// password, a locked or expired account, a host the user may not connect
// from, or a missing privilege. It is terminal; the wrapping error names the
// shard and the user, never the password.
var ErrAccessDenied = errors.New("access denied")

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

// terminalError marks an error of this package that retrying cannot fix:
// data the reader cannot decode without losing or corrupting it, a
// transaction that cannot be resumed exactly, a setting the server violates
// at run time. It keeps the wrapped error visible to errors.Is/As.
type terminalError struct{ err error }

func (e *terminalError) Error() string { return e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }

func terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err}
}

// errIdle is returned when a connection delivered neither an event nor a
// heartbeat for Config.ReadTimeout while the reader was waiting: the server
// or the network is gone without closing the socket. Retryable.
var errIdle = errors.New("no binlog event or heartbeat from the server within the read timeout")

// errServerIDClash: the server dropped the connection because another
// replica registered with the same server_id. Retryable (it is also what the
// reader's own previous connection, not yet reaped, causes), but Run stops
// after repeated clashes: two readers sharing an id would otherwise take
// turns forever.
var errServerIDClash = errors.New("another replica uses this server_id")

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

// unrecoverableCodes are the server error codes that reconnecting cannot fix,
// in the spirit of Vitess vreplication's isUnrecoverableError: an explicit
// allow-list, so that every other server error (too many connections, server
// shutting down, connection killed, lock wait...) is retried.
var unrecoverableCodes = map[uint16]string{
	mysql.ER_DBACCESS_DENIED_ERROR:             "database access denied",
	mysql.ER_ACCESS_DENIED_ERROR:               "access denied",
	mysql.ER_TABLEACCESS_DENIED_ERROR:          "table access denied",
	mysql.ER_COLUMNACCESS_DENIED_ERROR:         "column access denied",
	mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:      "missing privilege",
	mysql.ER_HOST_IS_BLOCKED:                   "host blocked (FLUSH HOSTS)",
	mysql.ER_HOST_NOT_PRIVILEGED:               "host not allowed to connect",
	mysql.ER_NOT_SUPPORTED_AUTH_MODE:           "authentication method not supported",
	mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG: "server cannot serve the requested binlog position",
	mysql.ER_UNKNOWN_SYSTEM_VARIABLE:           "unknown system variable",
	mysql.ER_NOT_SUPPORTED_YET:                 "not supported by this server",
	1698:                                       "access denied without password", // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
	1820:                                       "password expired",               // ER_MUST_CHANGE_PASSWORD
	1862:                                       "password expired",               // ER_MUST_CHANGE_PASSWORD_LOGIN
	3118:                                       "account locked",                 // MySQL ER_ACCOUNT_HAS_BEEN_LOCKED
	4151:                                       "account locked",                 // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
}

// accessDeniedCodes are the unrecoverable codes that mean "this user may not
// do this", reported as ErrAccessDenied.
var accessDeniedCodes = map[uint16]bool{
	mysql.ER_DBACCESS_DENIED_ERROR: true, mysql.ER_ACCESS_DENIED_ERROR: true,
	mysql.ER_TABLEACCESS_DENIED_ERROR: true, mysql.ER_COLUMNACCESS_DENIED_ERROR: true,
	mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR: true, mysql.ER_HOST_NOT_PRIVILEGED: true,
	mysql.ER_NOT_SUPPORTED_AUTH_MODE: true, 1698: true, 1820: true, 1862: true, 3118: true, 4151: true,
}

// Retryable reports whether reconnecting may cure err. It is the one place
// this package decides retryable versus terminal:
//
//   - terminal: ErrPositionLost, ErrAccessDenied, *PrerequisiteError,
//     *schema.UnsupportedTypeError, errors this package marks terminal (data
//     it cannot decode exactly), server errors in the unrecoverable allow-list
//     above, binlog events go-mysql cannot parse (other than a checksum
//     mismatch, which a re-read may cure), and context cancellation (the
//     caller is stopping);
//   - retryable: everything else, above all network errors, because a
//     reconnect resumes from the last complete transaction and loses nothing.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrPositionLost) || errors.Is(err, ErrAccessDenied) {
		return false
	}
	var (
		pe  *PrerequisiteError
		ute *schema.UnsupportedTypeError
		te  *terminalError
		me  *mysql.MyError
		ee  *replication.EventError
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &ute), errors.As(err, &te):
		return false
	case errors.As(err, &me):
		_, unrecoverable := unrecoverableCodes[me.Code]
		return !unrecoverable
	case errors.As(err, &ee):
		return strings.Contains(ee.Err, "checksum")
	}
	return true
}

// classifyServerError turns the server errors callers branch on into this
// package's sentinels: a lost position (naming the GTID set), a rejected
// user (naming user and address, never the password), a server_id clash.
// Other errors are returned as they are. Callers add the shard and what was
// being done.
func classifyServerError(err error, cfg *Config, gtidSet string) error {
	var me *mysql.MyError
	if !errors.As(err, &me) {
		return err
	}
	switch {
	case me.Code == erSlaveSameID || (me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG &&
		strings.Contains(me.Message, "same server_uuid/server_id")):
		// Not a position problem: another replica (or this reader's
		// previous connection, not yet gone) uses our server_id.
		return fmt.Errorf("server_id %d: server error %d: %s: %w", cfg.ServerID, me.Code, me.Message, errServerIDClash)
	case me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG && positionLostMessage(me.Message):
		return fmt.Errorf("the server cannot stream from GTID set %q: server error %d: %s: %w", gtidSet, me.Code, me.Message, ErrPositionLost)
	case me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
		return terminal(fmt.Errorf("from GTID set %q: %w", gtidSet, err))
	case accessDeniedCodes[me.Code]:
		return fmt.Errorf("user %q at %s: server error %d: %s: %w", cfg.User, cfg.Addr, me.Code, me.Message, ErrAccessDenied)
	}
	return err
}
