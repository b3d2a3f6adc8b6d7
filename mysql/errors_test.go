package mysql

import (
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	pingcap "github.com/pingcap/errors"
)

func TestClassifyServerError(t *testing.T) {
	const password = "hunter2"
	sc := ServerContext{User: "cdc", Addr: "db:3306", GTIDSet: "1-1-5"}
	tests := []struct {
		name     string
		err      error
		is       error
		contains []string
	}{
		// MariaDB 10.11's messages, from the stack.
		{"mariadb ahead", gomysql.NewError(1236, "Error: connecting slave requested to start from GTID 1-1-99999, which is not in the master's binlog"), ErrPositionLost, []string{"1-1-5"}},
		{"mariadb diverged", gomysql.NewError(1236, "Error: connecting slave requested to start from GTID 1-7-5, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions"), ErrPositionLost, nil},
		{"mariadb purged", gomysql.NewError(1236, "Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged."), ErrPositionLost, nil},
		{"mysql purged", gomysql.NewError(1236, "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere"), ErrPositionLost, nil},
		{"mysql same server id", gomysql.NewError(1236, "A replica with the same server_uuid/server_id as this replica has connected to the source"), ErrServerIDClash, nil},
		{"mariadb same server id", gomysql.NewError(4052, "A slave with the same server_uuid/server_id as this slave has connected to the master"), ErrServerIDClash, nil},
		{"wrong password", pingcap.Trace(gomysql.NewError(1045, "Access denied for user 'cdc'@'10.0.0.1' (using password: YES)")), ErrAccessDenied, []string{`"cdc"`, "db:3306"}},
	}
	for _, tt := range tests {
		got := ClassifyServerError(tt.err, sc)
		if !errors.Is(got, tt.is) {
			t.Errorf("%s: %v does not match %v", tt.name, got, tt.is)
		}
		if strings.Contains(got.Error(), password) {
			t.Errorf("%s: error shows the password", tt.name)
		}
		for _, c := range tt.contains {
			if !strings.Contains(got.Error(), c) {
				t.Errorf("%s: %q does not name %s", tt.name, got, c)
			}
		}
	}
	// Another 1236 is terminal but not a lost position.
	got := ClassifyServerError(gomysql.NewError(1236, "log event entry exceeded max_allowed_packet"), sc)
	if errors.Is(got, ErrPositionLost) {
		t.Errorf("max_allowed_packet: %v", got)
	}
}
