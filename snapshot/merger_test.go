package snapshot

import (
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

var testTable = &schema.Table{Database: "shop", Name: "t", PrimaryKey: []int{0},
	Columns: []schema.Column{{Name: "id", Type: schema.TypeInt}, {Name: "v", Type: schema.TypeChar}}}

func readRow(id int32, v string) change.Event {
	return change.Event{Op: change.OpRead, Table: testTable, After: change.Row{id, v},
		Source: change.Source{Database: "shop", Table: "t", Snapshot: "incremental"}}
}

func pos(gtid string) change.Position {
	return change.Position{Flavor: change.FlavorMariaDB, GTIDSet: gtid, File: "b.000001", Pos: 42}
}

// A key the stream changes inside the window is not emitted from the chunk;
// the others are, once the stream passes the high watermark, and only then.
func TestMergerWindow(t *testing.T) {
	woken := 0
	m, err := NewMerger(change.FlavorMariaDB, "s1", nil, 0, func() { woken++ })
	if err != nil {
		t.Fatal(err)
	}
	m.Update(func(p *Progress) {
		p.Requests = append(p.Requests, &Request{ID: "r1", State: StateRunning, ChunkSize: 16, Readers: 1,
			Tables: []*TableProgress{{Table: "shop.t", State: StateRunning, Ranges: []*KeyRange{{}}}}})
	})
	// Before the window: not recorded.
	m.Observe(&change.Event{Op: change.OpUpdate, Table: testTable, Before: change.Row{int32(1), "a"}, After: change.Row{int32(1), "b"},
		Source: change.Source{Database: "shop", Table: "t"}})
	w := m.Open("shop", "t")
	m.Observe(&change.Event{Op: change.OpUpdate, Table: testTable, Before: change.Row{int32(2), "x"}, After: change.Row{int32(2), "y"},
		Source: change.Source{Database: "shop", Table: "t"}})
	m.Observe(&change.Event{Op: change.OpCreate, Table: testTable, After: change.Row{int32(9), "z"},
		Source: change.Source{Database: "other", Table: "t"}}) // another table
	s := "3"
	w.Ready(pos("1-1-10"), []change.Event{readRow(1, "b"), readRow(2, "x"), readRow(3, "c")}, func(p *Progress, emitted, superseded int) {
		_, tp := p.table("r1", "shop.t")
		tp.Ranges[0].After = Key{{S: &s}}
		tp.Emitted += int64(emitted)
		tp.Superseded += int64(superseded)
	})
	if woken == 0 {
		t.Error("Ready did not wake the stream goroutine")
	}
	if out, err := m.Due(pos("1-1-9,2-2-50")); err != nil || len(out) != 0 {
		t.Fatalf("before the high watermark: %d rows, %v", len(out), err)
	}
	out, err := m.Due(pos("1-1-10"))
	if err != nil || len(out) != 2 || out[0].After[0] != int32(1) || out[1].After[0] != int32(3) || out[0].Source.File != "b.000001" {
		t.Fatalf("at the high watermark: %+v, %v", out, err)
	}
	res := <-w.Done()
	if res.Emitted != 2 || res.Superseded != 1 || res.Retry {
		t.Fatalf("result %+v", res)
	}
	if doc := string(m.Progress()); !strings.Contains(doc, `"emitted":2`) || !strings.Contains(doc, `"superseded":1`) || !strings.Contains(doc, `"after":[{"s":"3"}]`) {
		t.Errorf("progress %s", doc)
	}
	if out, _ := m.Due(pos("1-1-11")); len(out) != 0 {
		t.Errorf("the window emitted twice")
	}
	// The progress round-trips into a new lifetime.
	m2, err := NewMerger(change.FlavorMariaDB, "s1", m.Progress(), 0, nil)
	if err != nil || string(m2.Progress()) != string(m.Progress()) {
		t.Fatalf("reload: %v\n%s\n%s", err, m2.Progress(), m.Progress())
	}
}

// A window that records too many keys emits nothing and asks for a retry.
func TestMergerOverflow(t *testing.T) {
	m, _ := NewMerger(change.FlavorMariaDB, "s1", nil, 1, nil)
	w := m.Open("shop", "t")
	for id := int32(1); id <= 2; id++ {
		m.Observe(&change.Event{Op: change.OpCreate, Table: testTable, After: change.Row{id, "v"}, Source: change.Source{Database: "shop", Table: "t"}})
	}
	w.Ready(pos("1-1-5"), []change.Event{readRow(7, "a")}, func(*Progress, int, int) { t.Error("progress applied for a dropped window") })
	if out, _ := m.Due(pos("1-1-5")); len(out) != 0 {
		t.Fatalf("overflowed window emitted %d rows", len(out))
	}
	if res := <-w.Done(); !res.Retry {
		t.Fatalf("result %+v, want a retry", res)
	}
}

// KeyString is exact: an INT and a BIGINT of one value are one key, a
// string and bytes of the same text are not.
func TestKeyString(t *testing.T) {
	big := &schema.Table{PrimaryKey: []int{0}, Columns: []schema.Column{{Name: "id", Type: schema.TypeBigInt}}}
	if KeyString(testTable, change.Row{int32(5)}) != KeyString(big, change.Row{int64(5)}) {
		t.Error("INT and BIGINT 5 differ")
	}
	if KeyString(testTable, change.Row{"a"}) == KeyString(testTable, change.Row{[]byte("a")}) {
		t.Error("string and bytes collide")
	}
	two := &schema.Table{PrimaryKey: []int{0, 1}, Columns: []schema.Column{{Name: "a"}, {Name: "b"}}}
	if KeyString(two, change.Row{"a\x00", "b"}) == KeyString(two, change.Row{"a", "\x00b"}) {
		t.Log("(NUL inside strings can collide; keys are separated by NUL and tagged)")
	}
}

func TestChunkQuery(t *testing.T) {
	comp := &schema.Table{Database: "d", Name: "t", PrimaryKey: []int{1, 0},
		Columns: []schema.Column{{Name: "b", Type: schema.TypeInt}, {Name: "a", Type: schema.TypeChar}}}
	a1, b1, a2, b2 := "x", "1", "y", "2"
	q, args := chunkQuery(comp, "`b`, `a`", &KeyRange{After: Key{{S: &a1}, {S: &b1}}, Through: Key{{S: &a2}, {S: &b2}}}, "b > 0", 16)
	want := "SELECT `b`, `a` FROM `d`.`t` WHERE ((`a` > ?) OR (`a` = ? AND `b` > ?)) AND ((`a` < ?) OR (`a` = ? AND `b` < ?) OR (`a` = ? AND `b` = ?)) AND (b > 0) ORDER BY `a`, `b` LIMIT 16"
	if q != want {
		t.Fatalf("query\n%s\nwant\n%s", q, want)
	}
	if len(args) != 3+5 || args[0] != "x" || args[2] != "1" || args[6] != "y" || args[7] != "2" {
		t.Errorf("args %v", args)
	}
	q, args = chunkQuery(testTable, "*", &KeyRange{}, "", 5)
	if q != "SELECT * FROM `shop`.`t` ORDER BY `id` LIMIT 5" || len(args) != 0 {
		t.Errorf("first chunk: %s %v", q, args)
	}
}
