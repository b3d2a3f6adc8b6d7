package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	pingcap "github.com/pingcap/errors"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"network reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"eof", io.ErrUnexpectedEOF, true},
		{"idle connection", errIdle, true},
		{"server id clash", mysql.ErrServerIDClash, true},
		{"too many connections", gomysql.NewError(1040, "Too many connections"), true},
		{"connection killed (go-mysql wraps)", pingcap.Trace(gomysql.NewError(1927, "Connection was killed")), true},
		{"server shutdown", gomysql.NewError(1053, "Server shutdown in progress"), true},
		{"access denied", pingcap.Trace(gomysql.NewError(gomysql.ER_ACCESS_DENIED_ERROR, "Access denied")), false},
		{"missing privilege", gomysql.NewError(gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "need REPLICATION SLAVE"), false},
		{"binlog fatal", gomysql.NewError(gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "x"), false},
		{"position lost", fmt.Errorf("x: %w", mysql.ErrPositionLost), false},
		{"access denied sentinel", fmt.Errorf("x: %w", mysql.ErrAccessDenied), false},
		{"prerequisites", &PrerequisiteError{Shard: "s", Problems: []string{"p"}}, false},
		{"unsupported type", fmt.Errorf("x: %w", &schema.UnsupportedTypeError{Table: "d.t", Column: "c"}), false},
		{"terminal", fmt.Errorf("x: %w", terminal(errors.New("bad data"))), false},
		{"canceled", context.Canceled, false},
		{"unparsable event", pingcap.Trace(&replication.EventError{Err: "unsupport type 99"}), false},
		{"checksum mismatch", &replication.EventError{Err: "failed checksum for QueryEvent, log pos 4: binlog checksum mismatch"}, true},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestPrerequisiteError(t *testing.T) {
	e := &PrerequisiteError{Shard: "s1", Problems: []string{"binlog_format is MIXED; set binlog_format=ROW", "b"}}
	if got := e.Error(); got != "binlog: shard s1: 2 prerequisite(s) not met: 1) binlog_format is MIXED; set binlog_format=ROW; 2) b" {
		t.Errorf("Error() = %s", got)
	}
	if errors.Is(e, mysql.ErrPositionLost) {
		t.Errorf("matches ErrPositionLost without a position problem")
	}
	e.causes = []error{mysql.ErrPositionLost}
	if !errors.Is(fmt.Errorf("x: %w", e), mysql.ErrPositionLost) {
		t.Errorf("does not match ErrPositionLost with a position problem")
	}
}
