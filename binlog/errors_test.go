package binlog

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tidemark-cdc/tidemark/mysql"
)

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

// mark keeps the message and matches both the sentinel and the cause.
func TestMark(t *testing.T) {
	cause := fmt.Errorf("read: %w", mysql.ErrUndecodable)
	err := fmt.Errorf("shard s: %w", mark(ErrIncident, cause))
	if err.Error() != "shard s: read: cannot decode exactly" {
		t.Errorf("message %q", err)
	}
	if !errors.Is(err, ErrIncident) || !errors.Is(err, mysql.ErrUndecodable) {
		t.Errorf("%v does not match its sentinel and cause", err)
	}
	if mark(ErrIncident, nil) != nil {
		t.Error("mark(nil) is not nil")
	}
}
