package binlog

import (
	"context"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/change"
)

// BenchmarkDecodeRowsEvent measures the hot path on a realistic 20-column
// row (testdata/orders_insert.events: BIGINT UNSIGNED, INTs, DECIMALs,
// VARCHARs with non-ASCII text, DATETIME(6), DATE, JSON, DOUBLE), one row per
// transaction as in OLTP traffic. Each iteration parses the transaction's
// table-map and rows events (go-mysql decoding, with checksum verification)
// and then:
//
//   - gomysql: stops there (the library's own cost, for comparison);
//   - convert: resolves the table (cache hit) and converts the row to
//     canonical values: the reader's per-row cost on top of go-mysql;
//   - transaction: runs the whole transaction (GTID, table map, rows, XID)
//     through the session into a sink: positions and the event included.
func BenchmarkDecodeRowsEvent(b *testing.B) {
	raw := readFixture(b, "orders_insert.events") // FDE, GTID, TABLE_MAP, WRITE_ROWS, XID
	ctx := context.Background()
	setup := func(b *testing.B) (*session, *replication.BinlogParser) {
		s, _ := testSession(b, nil)
		s.out = discardSink{}
		p := fixtureParser(b, s.r, s.filter)
		parseFixture(b, p, raw[:1])
		return s, p
	}
	parseRows := func(b *testing.B, p *replication.BinlogParser) *replication.RowsEvent {
		if _, err := p.Parse(raw[2]); err != nil {
			b.Fatal(err)
		}
		ev, err := p.Parse(raw[3])
		if err != nil {
			b.Fatal(err)
		}
		return ev.Event.(*replication.RowsEvent)
	}
	b.Run("gomysql", func(b *testing.B) {
		_, p := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			parseRows(b, p)
		}
	})
	b.Run("convert", func(b *testing.B) {
		s, p := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			e := parseRows(b, p)
			ent, err := s.tables.resolve(ctx, s.sql, e.Table)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := convertRow(ent, e.Rows[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transaction", func(b *testing.B) {
		s, p := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range raw[1:] {
				ev, err := p.Parse(r)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.handle(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkConvertRow isolates the canonical conversion of the fixture row
// (the row is re-decoded once; each iteration converts a fresh copy).
func BenchmarkConvertRow(b *testing.B) {
	raw := readFixture(b, "orders_insert.events")
	s, _ := testSession(b, nil)
	evs := parseFixture(b, fixtureParser(b, s.r, s.filter), raw)
	e := evs[3].Event.(*replication.RowsEvent)
	ent, err := s.tables.resolve(context.Background(), s.sql, e.Table)
	if err != nil {
		b.Fatal(err)
	}
	src := append(change.Row(nil), e.Rows[0]...)
	row := make(change.Row, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(row, src)
		if _, err := convertRow(ent, row); err != nil {
			b.Fatal(err)
		}
	}
}

type discardSink struct{}

func (discardSink) Put(context.Context, change.Event) error { return nil }
