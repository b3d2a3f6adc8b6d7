package mysql

import (
	"reflect"
	"strings"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"

	"github.com/tidemark-cdc/tidemark/change"
)

func TestParseMariaGTIDs(t *testing.T) {
	got, err := ParseMariaGTIDs(" 2-5-7, 0-1-42 ,1-1-0")
	if err != nil {
		t.Fatal(err)
	}
	want := []MariaGTID{{0, 1, 42}, {1, 1, 0}, {2, 5, 7}}
	if !reflect.DeepEqual(got, want) || FormatMariaGTIDs(got) != "0-1-42,1-1-0,2-5-7" {
		t.Fatalf("got %v (%s)", got, FormatMariaGTIDs(got))
	}
	if g, err := ParseMariaGTIDs(""); err != nil || g != nil {
		t.Errorf("empty position: %v %v", g, err)
	}
	for _, bad := range []string{"1-1", "1-1-x", "a-1-1", "1-1-1,1-2-2", "4294967296-1-1", "1-1-1,", "1--1"} {
		if _, err := ParseMariaGTIDs(bad); err == nil {
			t.Errorf("ParseMariaGTIDs(%q) accepted", bad)
		}
	}
	// gtid_binlog_state may hold several GTIDs per domain.
	if l, err := ParseMariaGTIDList("1-1-5,1-2-9"); err != nil || len(l) != 2 {
		t.Errorf("ParseMariaGTIDList: %v %v", l, err)
	}
}

func TestGTIDStateMariaDB(t *testing.T) {
	s, err := NewGTIDState(change.FlavorMariaDB, change.Position{Flavor: change.FlavorMariaDB, GTIDSet: "1-1-10", File: "b.000001", Pos: 99})
	if err != nil {
		t.Fatal(err)
	}
	s.AddMaria(MariaGTID{1, 1, 11}, "1-1-11")
	if s.text != "1-1-11" {
		t.Fatalf("one domain: %s", s.text)
	}
	s.AddMaria(MariaGTID{0, 7, 3}, "0-7-3") // a new domain sorts first
	s.AddMaria(MariaGTID{1, 2, 12}, "")
	p := s.Position()
	if p.GTIDSet != "0-7-3,1-2-12" || p.Flavor != change.FlavorMariaDB || p.File != "b.000001" {
		t.Fatalf("position %+v", p)
	}
	set, err := s.SyncSet()
	if err != nil || set.String() != "0-7-3,1-2-12" {
		t.Fatalf("SyncSet %v %v", set, err)
	}
	// What position() produces, NewGTIDState accepts unchanged.
	again, err := NewGTIDState(change.FlavorMariaDB, p)
	if err != nil || again.Position().GTIDSet != p.GTIDSet {
		t.Fatalf("round trip: %v %v", again, err)
	}
	if _, err := NewGTIDState(change.FlavorMySQL, p); err == nil {
		t.Errorf("a MariaDB position accepted for a MySQL shard")
	}
}

func TestGTIDStateMySQL(t *testing.T) {
	sid := uuid.MustParse("3e11fa47-71ca-11e1-9e33-c80aa9429562")
	s, err := NewGTIDState(change.FlavorMySQL, change.Position{GTIDSet: "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"})
	if err != nil {
		t.Fatal(err)
	}
	s.AddMySQL(sid, gomysql.Tag{}, 6)
	s.AddMySQL(sid, gomysql.Tag{}, 8)
	if got := s.Position().GTIDSet; got != "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6:8" {
		t.Fatalf("position %s", got)
	}
	if got := MySQLGTIDText(sid, gomysql.NewTag("Blue"), 7); got != "3e11fa47-71ca-11e1-9e33-c80aa9429562:blue:7" {
		t.Errorf("tagged gtid %s", got)
	}
	if got := MySQLGTIDText(sid, gomysql.Tag{}, 7); got != "3e11fa47-71ca-11e1-9e33-c80aa9429562:7" {
		t.Errorf("gtid %s", got)
	}
}

// FuzzPosition: any stored position either is rejected or round-trips
// through the reader's state to a position that parses to the same state.
func FuzzPosition(f *testing.F) {
	for _, s := range []string{"0-1-42,1-2-7", "", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7", "1-1-18446744073709551615"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, maria bool) {
		flavor := change.FlavorMySQL
		if maria {
			flavor = change.FlavorMariaDB
		}
		s, err := NewGTIDState(flavor, change.Position{Flavor: flavor, GTIDSet: text})
		if err != nil {
			return
		}
		p := s.Position()
		again, err := NewGTIDState(flavor, p)
		if err != nil {
			t.Fatalf("position %q from %q does not parse: %v", p.GTIDSet, text, err)
		}
		if again.text != s.text {
			t.Fatalf("%q -> %q -> %q", text, s.text, again.text)
		}
		if maria {
			if _, err := s.SyncSet(); err != nil {
				t.Fatalf("SyncSet(%q): %v", s.text, err)
			}
			if strings.Count(s.text, ",") != max(len(s.maria)-1, 0) {
				t.Fatalf("text %q for %d GTIDs", s.text, len(s.maria))
			}
		}
	})
}

// A position without GTIDs keeps the server it was read on; the first
// transaction makes it a GTID position, which names no server.
func TestGTIDStateServerWithoutGTIDs(t *testing.T) {
	s, err := NewGTIDState(change.FlavorMariaDB, change.Position{Flavor: change.FlavorMariaDB, File: "b.000001", Pos: 329, ServerID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Position(); p.ServerID != 1 || p.GTIDSet != "" || p.File != "b.000001" {
		t.Fatalf("position without GTIDs %+v, want server_id 1 kept", p)
	}
	s.AddMaria(MariaGTID{1, 1, 1}, "1-1-1")
	if p := s.Position(); p.ServerID != 0 || p.GTIDSet != "1-1-1" {
		t.Fatalf("position with a GTID %+v, want no server_id", p)
	}
}
