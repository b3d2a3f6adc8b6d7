package binlog

import (
	"context"
	"errors"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
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
		errors.Is(err, mysql.ErrPositionLost) || errors.Is(err, mysql.ErrAccessDenied) || errors.Is(err, mysql.ErrUndecodable) {
		return false
	}
	var (
		pe  *PrerequisiteError
		ute *schema.UnsupportedTypeError
		te  *terminalError
		me  *gomysql.MyError
		ee  *replication.EventError
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &ute), errors.As(err, &te):
		return false
	case errors.As(err, &me):
		_, unrecoverable := mysql.UnrecoverableCodes[me.Code]
		return !unrecoverable
	case errors.As(err, &ee):
		return strings.Contains(ee.Err, "checksum")
	}
	return true
}
