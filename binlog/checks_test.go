package binlog

import (
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
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
		got := mariaPositionProblems(tt.stored, g(tt.stored), g(tt.state), tt.state, "b.000007", g(tt.start), nil)
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

// A replica that has not yet logged every transaction of the position is
// behind (a wait); a server that does not replicate the domain is another
// history (mariaPositionProblems reports it). Values as MariaDB 10.11
// prints gtid_binlog_state and gtid_slave_pos on the stack's replica1.
func TestMariaBehind(t *testing.T) {
	g := func(s string) []mysql.MariaGTID {
		l, err := mysql.ParseMariaGTIDList(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tests := []struct {
		name                    string
		stored, state, slavePos string
		want                    string
	}{
		{"caught up", "1-1-50", "1-1-50", "1-1-50", ""},
		{"replica behind", "1-1-51", "1-1-50", "1-1-50", "1-1-51"},
		{"not a replica", "1-1-51", "1-1-50", "", ""},
		{"replica of another domain", "1-1-51", "1-1-50,2-2-9", "2-2-9", ""},
		{"replica that logged nothing of the domain yet", "1-1-51", "", "1-1-40", "1-1-51"},
		{"promoted replica, own server id", "1-1-60", "1-1-50,1-101-55", "1-1-50", "1-1-60"},
		{"one of two domains", "1-1-50,3-1-7", "1-1-50,3-1-6", "1-1-50,3-1-6", "3-1-7"},
	}
	for _, tt := range tests {
		if got := mysql.FormatMariaGTIDs(mariaBehind(g(tt.stored), g(tt.state), g(tt.slavePos))); got != tt.want {
			t.Errorf("%s: behind %q, want %q", tt.name, got, tt.want)
		}
		// The position check reports no loss where the replica is only behind.
		behind := mariaBehind(g(tt.stored), g(tt.state), g(tt.slavePos))
		problems := mariaPositionProblems(tt.stored, g(tt.stored), g(tt.state), tt.state, "b.000001", nil, behind)
		if len(behind) > 0 && len(problems) > 0 {
			t.Errorf("%s: behind %v and yet problems %q", tt.name, behind, problems)
		}
		if tt.name == "not a replica" && len(problems) != 1 {
			t.Errorf("%s: problems %q, want the position ahead of the server's binlogs", tt.name, problems)
		}
	}
}

// A position without GTIDs is bound to the server_id it was read on.
func TestPortabilityProblem(t *testing.T) {
	fileOnly := change.Position{Flavor: change.FlavorMariaDB, File: "shard1-bin.000001", Pos: 329, ServerID: 1}
	tests := []struct {
		name     string
		pos      change.Position
		serverID string
		refused  bool
	}{
		{"same server", fileOnly, "1", false},
		{"another server", fileOnly, "101", true},
		{"with GTIDs, any server", change.Position{Flavor: change.FlavorMariaDB, GTIDSet: "1-1-9", File: "shard1-bin.000001", Pos: 900}, "101", false},
		{"server unknown (stored before server_id was recorded)", change.Position{Flavor: change.FlavorMariaDB, File: "shard1-bin.000001", Pos: 329}, "101", false},
	}
	for _, tt := range tests {
		p := portabilityProblem(tt.pos, tt.serverID, "127.0.0.1:13406")
		if (p != "") != tt.refused {
			t.Errorf("%s: problem %q, want refused=%t", tt.name, p, tt.refused)
		}
		if tt.refused && (!strings.Contains(p, "server_id 1") || !strings.Contains(p, "server_id 101") || !strings.Contains(p, "shard1-bin.000001:329")) {
			t.Errorf("%s: %q does not name both servers and the position", tt.name, p)
		}
	}
}
