package binlog

import (
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/mysql"
)

func TestGrantProblems(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		missing []string
	}{
		{"stack user (MariaDB 10.11)", []string{"GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `tidemark`@`127.0.0.1` IDENTIFIED BY PASSWORD '*0109'"}, nil},
		{"mysql user", []string{"GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cdc`@`%`"}, nil},
		{"all privileges", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION"}, nil},
		{"select on one database", []string{"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `cdc`@`%`", "GRANT SELECT ON `app`.* TO `cdc`@`%`"}, nil},
		{"slave admin is not slave", []string{"GRANT SELECT, REPLICATION SLAVE ADMIN, BINLOG MONITOR ON *.* TO `cdc`@`%`"}, []string{"REPLICATION SLAVE privilege"}},
		{"nothing", []string{"GRANT USAGE ON *.* TO `cdc`@`%`"}, []string{"REPLICATION SLAVE", "REPLICATION CLIENT", "SELECT"}},
		{"roles are not resolved", []string{"GRANT USAGE ON *.* TO `cdc`@`%`", "GRANT `cdc_role` TO `cdc`@`%`"}, nil},
	}
	for _, tt := range tests {
		got := grantProblems(tt.lines, "cdc")
		if len(got) != len(tt.missing) {
			t.Errorf("%s: problems %q, want %d", tt.name, got, len(tt.missing))
			continue
		}
		for i, m := range tt.missing {
			if !strings.Contains(got[i], m) || !strings.Contains(got[i], "GRANT ") {
				t.Errorf("%s: problem %q does not name %s and the fix", tt.name, got[i], m)
			}
		}
	}
}

func TestMariaPositionProblems(t *testing.T) {
	g := func(s string) []mysql.MariaGTID {
		l, err := mysql.ParseMariaGTIDList(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name         string
		stored       string
		state, start string
		want         []string
	}{
		{"current", "1-1-50", "1-1-50", "", nil},
		{"behind, still in binlogs", "1-1-20", "1-1-50", "1-1-10", nil},
		{"exactly at the oldest binlog's start", "1-1-10", "1-1-50", "1-1-10", nil},
		{"purged", "1-1-5", "1-1-50", "1-1-10", []string{"has sequence 5 in domain 1 but the oldest binlog b.000007 starts after 1-1-10"}},
		{"ahead", "1-1-51", "1-1-50,1-2-40", "", []string{"1-1-51 is ahead of the server's binlogs"}},
		{"unseen domain purged", "1-1-50", "1-1-50,2-2-9", "2-2-3", []string{"has no GTID in domain 2"}},
		{"several domains", "0-1-7,1-1-50", "0-1-9,1-1-50", "0-1-2,1-1-30", nil},
	}
	for _, tt := range tests {
		got := mariaPositionProblems(tt.stored, g(tt.stored), g(tt.state), tt.state, "b.000007", g(tt.start))
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: %q does not contain %q", tt.name, got[i], tt.want[i])
			}
		}
	}
}
