package binlog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

func TestSessionDecodesOrdersFixture(t *testing.T) {
	s, sink := testSession(t, nil)
	if err := feed(t, s, fixtureParser(t, s.r, s.filter), readFixture(t, "orders_insert.events")); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 1 {
		t.Fatalf("%d events", len(sink.events))
	}
	ev := sink.events[0]
	want := change.Row{
		uint64(18446744073709551615), int32(4242), int32(-3), int32(12), int32(16777215),
		"1234567.89", "-0.0825", "ada.lovelace@example.com", "Ada Lovelace", "Zürich", "CH",
		"SKU-0001-XL", "Leave at the door, ring twice 🚪", int64(1714979289123456), nil,
		int32(19850), int64(4294967295), int64(-9000000000),
		`{"gift": true, "tags": ["a", "b"], "source": "web"}`, 3.141592653589793,
	}
	if ev.Op != change.OpCreate || ev.Before != nil || !reflect.DeepEqual(ev.After, want) {
		t.Fatalf("event %s before %v after\n%#v\nwant\n%#v", ev.Op, ev.Before, ev.After, want)
	}
	tbl := ev.Table
	if tbl.QualifiedName() != "tidemark_fixture.orders" || !reflect.DeepEqual(tbl.PrimaryKey, []int{0}) {
		t.Errorf("table %s key %v", tbl.QualifiedName(), tbl.PrimaryKey)
	}
	checks := []struct {
		col  string
		want schema.Column
	}{
		{"id", schema.Column{Name: "id", Type: schema.TypeBigInt, Unsigned: true, RawType: "bigint(20) unsigned"}},
		{"amount", schema.Column{Name: "amount", Type: schema.TypeDecimal, Precision: 12, Scale: 2, RawType: "decimal(12,2)"}},
		{"email", schema.Column{Name: "email", Type: schema.TypeChar, Length: 255, Charset: "utf8mb4", Collation: "utf8mb4_general_ci", RawType: "varchar(255)"}},
		{"country", schema.Column{Name: "country", Type: schema.TypeChar, Nullable: true, Length: 2, Charset: "utf8mb4", Collation: "utf8mb4_general_ci", RawType: "char(2)"}},
		{"created_at", schema.Column{Name: "created_at", Type: schema.TypeDateTime, FSP: 6, RawType: "datetime(6)"}},
		{"attrs", schema.Column{Name: "attrs", Type: schema.TypeText, Nullable: true, Charset: "utf8mb4", Collation: "utf8mb4_bin", RawType: "longtext"}},
	}
	for _, c := range checks {
		if got := tbl.Columns[tbl.ColumnIndex(c.col)]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("column %s:\n%+v\nwant\n%+v", c.col, got, c.want)
		}
	}
	src := ev.Source
	if src.GTID == "" || src.Database != "tidemark_fixture" || src.Table != "orders" || src.ServerID != 1 || src.Thread != -1 ||
		src.TxSeq != 1 || src.Row != 0 || src.File != "" && src.Pos == 0 || ev.CommitUnixMicros == 0 || src.TsMs != ev.CommitUnixMicros/1000 {
		t.Errorf("source %+v", src)
	}
	if ev.Position.GTIDSet != src.GTID || ev.Size < eventOverhead+200 {
		t.Errorf("position %s (gtid %s), size %d", ev.Position, src.GTID, ev.Size)
	}
}

func TestSessionTransactionPositions(t *testing.T) {
	s, sink := testSession(t, nil)
	before := s.pos.Position()
	if err := feed(t, s, fixtureParser(t, s.r, s.filter), readFixture(t, "small_tx.events")); err != nil {
		t.Fatal(err)
	}
	if got := rowSummary(sink.events); got != "c[1 a] c[2 b] c[3 c] u[2 b]->[2 bb] d[1 a] d[3 c]" {
		t.Fatalf("events %s", got)
	}
	gtid := sink.events[0].Source.GTID
	for i, ev := range sink.events {
		if ev.Source.TxSeq != int64(i+1) || ev.Source.GTID != gtid {
			t.Errorf("event %d: txseq %d gtid %s", i, ev.Source.TxSeq, ev.Source.GTID)
		}
		wantPos := before
		if i == len(sink.events)-1 {
			wantPos = s.pos.Position()
		}
		if !reflect.DeepEqual(ev.Position, wantPos) {
			t.Errorf("event %d position %s, want %s", i, ev.Position, wantPos)
		}
	}
	if s.pos.Text() != gtid || s.pos.Pos == 0 {
		t.Errorf("position after the transaction %s, gtid %s", s.pos.Position(), gtid)
	}
	if rows := [2]int{sink.events[4].Source.Row, sink.events[5].Source.Row}; rows != [2]int{0, 1} {
		t.Errorf("rows within the delete event: %v", rows)
	}
	if sink.events[0].Table != sink.events[5].Table {
		t.Errorf("one table, several *schema.Table")
	}
}

func rowSummary(evs []change.Event) string {
	var out string
	for _, ev := range evs {
		if out != "" {
			out += " "
		}
		switch ev.Op {
		case change.OpCreate:
			out += fmt.Sprintf("c%v", []any(ev.After))
		case change.OpUpdate:
			out += fmt.Sprintf("u%v->%v", []any(ev.Before), []any(ev.After))
		case change.OpDelete:
			out += fmt.Sprintf("d%v", []any(ev.Before))
		default:
			out += string(ev.Op)
		}
	}
	return out
}

// A connection lost in the middle of a transaction: the server sends the
// transaction again, and the events already Put are dropped.
func TestSessionReconnectMidTransaction(t *testing.T) {
	raw := readFixture(t, "small_tx.events")
	s, sink := testSession(t, nil)
	p := fixtureParser(t, s.r, s.filter)
	// FDE, GTID, TM, WRITE(3 rows), TM, UPDATE: the update is held back.
	for _, ev := range parseFixture(t, p, raw[:6]) {
		if err := s.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.events) != 3 {
		t.Fatalf("%d events Put before the loss, want 3", len(sink.events))
	}
	s.connectionLost()
	if s.partial.put != 3 || s.hasPending || s.tx.active {
		t.Fatalf("after the loss: partial %+v pending %v active %v", s.partial, s.hasPending, s.tx.active)
	}
	p = fixtureParser(t, s.r, s.filter) // a new connection, a new parser
	if err := feed(t, s, p, raw); err != nil {
		t.Fatal(err)
	}
	if got := rowSummary(sink.events); got != "c[1 a] c[2 b] c[3 c] u[2 b]->[2 bb] d[1 a] d[3 c]" {
		t.Fatalf("events %s", got)
	}
	for i, ev := range sink.events {
		if ev.Source.TxSeq != int64(i+1) {
			t.Errorf("event %d txseq %d", i, ev.Source.TxSeq)
		}
	}
	if n := testutil.ToFloat64(s.m.replaySkips); n != 3 {
		t.Errorf("skipped %v replayed rows, want 3", n)
	}

	// A different transaction first after the reconnect: resuming exactly
	// is impossible, and the error says so.
	s2, _ := testSession(t, nil)
	s2.partial.gtid, s2.partial.put = "1-1-999", 2
	err := feed(t, s2, fixtureParser(t, s2.r, s2.filter), raw)
	if !errors.Is(err, ErrHistoryDiverged) {
		t.Fatalf("replay of another transaction: %v, want ErrHistoryDiverged", err)
	}
}

func TestSessionFilteredTransactionsCheckpoint(t *testing.T) {
	raw := readFixture(t, "small_tx.events")
	s, sink := testSession(t, func(db, table string) bool { return table != "t" })
	s.cfg.CheckpointInterval = time.Hour
	if err := feed(t, s, fixtureParser(t, s.r, s.filter), raw); err != nil {
		t.Fatal(err)
	}
	if got := rowSummary(sink.events); got != "." {
		t.Fatalf("events %s, want one checkpoint", got)
	}
	cp := sink.events[0]
	if cp.Table != nil || cp.Position.GTIDSet != s.pos.Text() || cp.CommitUnixMicros == 0 || cp.Source.Thread != -1 {
		t.Errorf("checkpoint %+v", cp)
	}
	if len(s.tables.entries) != 0 {
		t.Errorf("a filtered table was resolved")
	}
	// The next filtered transaction (the fixture's, renumbered) within the
	// interval: no new checkpoint, until a heartbeat.
	s.lastCheckpoint = time.Now()
	for _, ev := range parseFixture(t, fixtureParser(t, s.r, s.filter), raw) {
		if g, ok := ev.Event.(*replication.MariadbGTIDEvent); ok {
			g.GTID.SequenceNumber++
		}
		if err := s.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.events) != 1 {
		t.Fatalf("a rate-limited checkpoint was Put: %s", rowSummary(sink.events))
	}
	if err := s.handle(context.Background(), &replication.BinlogEvent{Header: &replication.EventHeader{}, Event: &replication.HeartbeatEvent{}}); err != nil {
		t.Fatal(err)
	}
	if len(sink.events) != 2 || sink.events[1].Op != change.OpCheckpoint || sink.events[1].CommitUnixMicros != 0 {
		t.Fatalf("after a heartbeat: %s", rowSummary(sink.events))
	}
	// Nothing moved since: the next heartbeat is silent.
	if err := s.heartbeat(context.Background()); err != nil || len(sink.events) != 2 {
		t.Fatalf("idle heartbeat: %v, %d events", err, len(sink.events))
	}
}

func TestSessionDDLIsACheckpoint(t *testing.T) {
	s, sink := testSession(t, nil)
	s.tables.is["db.t"] = nil
	gtid := &replication.BinlogEvent{
		Header: &replication.EventHeader{Timestamp: 1714979289, ServerID: 1, EventType: replication.MARIADB_GTID_EVENT},
		Event:  &replication.MariadbGTIDEvent{GTID: mariadbGTID(1, 1, 101), Flags: replication.BINLOG_MARIADB_FL_STANDALONE | replication.BINLOG_MARIADB_FL_DDL},
	}
	ddl := &replication.BinlogEvent{
		Header: &replication.EventHeader{LogPos: 500, EventSize: 80, EventType: replication.QUERY_EVENT},
		Event:  &replication.QueryEvent{Schema: []byte("db"), Query: []byte("ALTER TABLE t ADD COLUMN x INT")},
	}
	for _, ev := range []*replication.BinlogEvent{gtid, ddl} {
		if err := s.handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(sink.events) != 1 || sink.events[0].Op != change.OpCheckpoint || sink.events[0].Position.GTIDSet != "1-1-101" ||
		sink.events[0].Position.Pos != 500 || sink.events[0].CommitUnixMicros != 1714979289000000 {
		t.Fatalf("events %+v", sink.events)
	}
	if _, cached := s.tables.is["db.t"]; cached || s.tables.gens["db.t"] != 1 {
		t.Errorf("the DDL did not invalidate db.t")
	}
}

func TestSessionRejectsPartialRowImage(t *testing.T) {
	s, _ := testSession(t, nil)
	evs := parseFixture(t, fixtureParser(t, s.r, s.filter), readFixture(t, "small_tx.events"))
	for _, ev := range evs {
		if re, ok := ev.Event.(*replication.RowsEvent); ok {
			re.SkippedColumns[0] = []int{1}
		}
		if err := s.handle(context.Background(), ev); err != nil {
			if !errors.Is(err, ErrServerSetting) {
				t.Fatalf("error %v, want ErrServerSetting", err)
			}
			return
		}
	}
	t.Fatal("a partial row image was accepted")
}

// A panic of the allow-list on go-mysql's decoding goroutine is reported as
// the panic it is (go-mysql itself keeps only an error's text).
func TestRowFilterPanicIsReported(t *testing.T) {
	s, _ := testSession(t, func(db, table string) bool { panic("bad filter") })
	p := fixtureParser(t, s.r, s.filter)
	var parseErr error
	for _, b := range readFixture(t, "small_tx.events") {
		if _, parseErr = p.Parse(b); parseErr != nil {
			break
		}
	}
	if parseErr == nil {
		t.Fatal("the panicking filter went unnoticed")
	}
	var pe *change.PanicError
	if err := s.readError(parseErr, false); !errors.As(err, &pe) || pe.Stage != "binlog decode" || !strings.Contains(fmt.Sprint(pe.Value), "bad filter") {
		t.Fatalf("readError = %v, want the filter's PanicError", err)
	}
}

// The XID of an XA_PREPARE event's body, as MariaDB 10.11 prints the same
// transaction in SHOW BINLOG EVENTS ("XA PREPARE X'747832',X'62',7") and in
// its XA ROLLBACK query: both normalise to one key.
func TestXAPrepareXID(t *testing.T) {
	body := []byte{0, 7, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 't', 'x', '2', 'b'} // one_phase, formatID 7, gtrid "tx2", bqual "b"
	xid, ok := parseXAPrepare(body)
	if !ok || xid != normalizeXID("X'747832',X'62',7") {
		t.Fatalf("parseXAPrepare = %q %v, want %q", xid, ok, normalizeXID("X'747832',X'62',7"))
	}
	if rb, rest, ok := xaVerb([]byte("XA ROLLBACK X'747832',X'62',7")); !ok || !rb || normalizeXID(string(rest)) != xid {
		t.Errorf("xaVerb: %v %q %v", rb, rest, ok)
	}
	if rb, _, ok := xaVerb([]byte("xa commit X'747832',X'62',7")); !ok || rb {
		t.Errorf("xaVerb(commit): %v %v", rb, ok)
	}
	for _, bad := range [][]byte{nil, body[:12], append(append([]byte{}, body[:5]...), 200, 0, 0, 0, 1, 0, 0, 0)} {
		if _, ok := parseXAPrepare(bad); ok {
			t.Errorf("parseXAPrepare(%v) accepted", bad)
		}
	}
}
