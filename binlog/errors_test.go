package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	pingcap "github.com/pingcap/errors"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

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
		{"server id clash", errServerIDClash, true},
		{"too many connections", mysql.NewError(1040, "Too many connections"), true},
		{"connection killed (go-mysql wraps)", pingcap.Trace(mysql.NewError(1927, "Connection was killed")), true},
		{"server shutdown", mysql.NewError(1053, "Server shutdown in progress"), true},
		{"access denied", pingcap.Trace(mysql.NewError(mysql.ER_ACCESS_DENIED_ERROR, "Access denied")), false},
		{"missing privilege", mysql.NewError(mysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "need REPLICATION SLAVE"), false},
		{"binlog fatal", mysql.NewError(mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "x"), false},
		{"position lost", fmt.Errorf("x: %w", ErrPositionLost), false},
		{"access denied sentinel", fmt.Errorf("x: %w", ErrAccessDenied), false},
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

func TestClassifyServerError(t *testing.T) {
	cfg := &Config{Shard: "s1", User: "cdc", Password: "hunter2", Addr: "db:3306"}
	tests := []struct {
		name     string
		err      error
		is       error
		contains []string
	}{
		// MariaDB 10.11's messages, from the stack.
		{"mariadb ahead", mysql.NewError(1236, "Error: connecting slave requested to start from GTID 1-1-99999, which is not in the master's binlog"), ErrPositionLost, []string{"1-1-5"}},
		{"mariadb diverged", mysql.NewError(1236, "Error: connecting slave requested to start from GTID 1-7-5, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions"), ErrPositionLost, nil},
		{"mariadb purged", mysql.NewError(1236, "Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged."), ErrPositionLost, nil},
		{"mysql purged", mysql.NewError(1236, "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere"), ErrPositionLost, nil},
		{"mysql same server id", mysql.NewError(1236, "A replica with the same server_uuid/server_id as this replica has connected to the source"), errServerIDClash, nil},
		{"mariadb same server id", mysql.NewError(4052, "A slave with the same server_uuid/server_id as this slave has connected to the master"), errServerIDClash, nil},
		{"wrong password", pingcap.Trace(mysql.NewError(1045, "Access denied for user 'cdc'@'10.0.0.1' (using password: YES)")), ErrAccessDenied, []string{`"cdc"`, "db:3306"}},
	}
	for _, tt := range tests {
		got := classifyServerError(tt.err, cfg, "1-1-5")
		if !errors.Is(got, tt.is) {
			t.Errorf("%s: %v does not match %v", tt.name, got, tt.is)
		}
		if strings.Contains(got.Error(), cfg.Password) {
			t.Errorf("%s: error shows the password", tt.name)
		}
		for _, c := range tt.contains {
			if !strings.Contains(got.Error(), c) {
				t.Errorf("%s: %q does not name %s", tt.name, got, c)
			}
		}
	}
	// Another 1236 is terminal but not a lost position.
	got := classifyServerError(mysql.NewError(1236, "log event entry exceeded max_allowed_packet"), cfg, "1-1-5")
	if errors.Is(got, ErrPositionLost) || Retryable(got) {
		t.Errorf("max_allowed_packet: %v", got)
	}
}

func TestPrerequisiteError(t *testing.T) {
	e := &PrerequisiteError{Shard: "s1", Problems: []string{"binlog_format is MIXED; set binlog_format=ROW", "b"}}
	if got := e.Error(); got != "binlog: shard s1: 2 prerequisite(s) not met: 1) binlog_format is MIXED; set binlog_format=ROW; 2) b" {
		t.Errorf("Error() = %s", got)
	}
	if errors.Is(e, ErrPositionLost) {
		t.Errorf("matches ErrPositionLost without a position problem")
	}
	e.causes = []error{ErrPositionLost}
	if !errors.Is(fmt.Errorf("x: %w", e), ErrPositionLost) {
		t.Errorf("does not match ErrPositionLost with a position problem")
	}
}
