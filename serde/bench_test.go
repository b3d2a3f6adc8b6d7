package serde

import (
	"context"
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// ordersTable is a realistic 20-column OLTP row: ints, VARCHARs, DECIMALs,
// DATETIME(6), a TIMESTAMP, JSON; about 500 bytes encoded.
func ordersTable() *schema.Table {
	return &schema.Table{
		Database: "shop", Name: "orders",
		Columns: []schema.Column{
			{Name: "id", Type: schema.TypeBigInt},
			{Name: "customer_id", Type: schema.TypeInt},
			{Name: "status", Type: schema.TypeEnum, Values: []string{"new", "paid", "shipped", "cancelled"}},
			{Name: "email", Type: schema.TypeChar, Length: 255},
			{Name: "first_name", Type: schema.TypeChar, Length: 64},
			{Name: "last_name", Type: schema.TypeChar, Length: 64},
			{Name: "street", Type: schema.TypeChar, Length: 255, Nullable: true},
			{Name: "city", Type: schema.TypeChar, Length: 64, Nullable: true},
			{Name: "country", Type: schema.TypeChar, Length: 2},
			{Name: "zip", Type: schema.TypeChar, Length: 16, Nullable: true},
			{Name: "phone", Type: schema.TypeChar, Length: 32, Nullable: true},
			{Name: "price", Type: schema.TypeDecimal, Precision: 12, Scale: 2},
			{Name: "tax", Type: schema.TypeDecimal, Precision: 12, Scale: 2},
			{Name: "quantity", Type: schema.TypeSmallInt},
			{Name: "created_at", Type: schema.TypeDateTime, FSP: 6},
			{Name: "updated_at", Type: schema.TypeDateTime, FSP: 6},
			{Name: "shipped_at", Type: schema.TypeTimestamp, FSP: 0, Nullable: true},
			{Name: "notes", Type: schema.TypeText, Nullable: true},
			{Name: "metadata", Type: schema.TypeJSON, Nullable: true},
			{Name: "flags", Type: schema.TypeTinyInt},
		},
		PrimaryKey: []int{0},
	}
}

func ordersRow() change.Row {
	return change.Row{
		int64(9_876_543_210), int32(1_234_567), "shipped", "ada.lovelace@analytical-engines.example.com",
		"Ada", "Lovelace", "12 St James's Square", "London", "GB", "SW1Y 4JH", "+44 20 7946 0958",
		"1249.99", "-249.99", int32(3), int64(1_700_000_000_123_456), int64(1_700_000_100_654_321),
		"2023-11-14T22:13:20Z", strings.Repeat("Please leave the parcel with the porter. ", 3),
		`{"channel":"web","campaign":"autumn-sale","items":[{"sku":"AE-1","qty":2},{"sku":"DE-2","qty":1}]}`,
		int32(5),
	}
}

func ordersEvent(op change.Op) *change.Event {
	return &change.Event{
		Op: op, Table: ordersTable(), Before: ordersRow(), After: ordersRow(),
		Source: change.Source{Shard: "shard042", Connector: "mariadb", Database: "shop", Table: "orders",
			ServerID: 42, GTID: "42-42-123456789", File: "mariadb-bin.000123", Pos: 98765432, Row: 3,
			Thread: 1234, TsMs: 1_700_000_000_000},
	}
}

// BenchmarkEncode20Columns: one insert of a realistic row per iteration
// (key + envelope), dst reused as the router would.
func BenchmarkEncode20Columns(b *testing.B) {
	enc, _ := newTestEncoder(b, Options{Version: "tidemark-bench"})
	ev := ordersEvent(change.OpCreate)
	ctx := context.Background()
	dst, err := enc.Messages(ctx, nil, "tidemark.shop.orders", ev, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dst[0].Key) + len(dst[0].Value)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst, err = enc.Messages(ctx, dst[:0], "tidemark.shop.orders", ev, testNow)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEncode20ColumnsUpdate: an update carries two row images and
// compares the before and after keys.
func BenchmarkEncode20ColumnsUpdate(b *testing.B) {
	enc, _ := newTestEncoder(b, Options{})
	ev := ordersEvent(change.OpUpdate)
	ctx := context.Background()
	dst, _ := enc.Messages(ctx, nil, "tidemark.shop.orders", ev, testNow)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst, _ = enc.Messages(ctx, dst[:0], "tidemark.shop.orders", ev, testNow)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkEncodeParallel(b *testing.B) {
	enc, _ := newTestEncoder(b, Options{})
	ctx := context.Background()
	if _, err := enc.Messages(ctx, nil, "tidemark.shop.orders", ordersEvent(change.OpCreate), testNow); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ev := ordersEvent(change.OpCreate)
		var dst []Message
		for pb.Next() {
			dst, _ = enc.Messages(ctx, dst[:0], "tidemark.shop.orders", ev, testNow)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkDecode(b *testing.B) {
	enc, reg := newTestEncoder(b, Options{})
	ctx := context.Background()
	msgs, err := enc.Messages(ctx, nil, "tidemark.shop.orders", ordersEvent(change.OpCreate), testNow)
	if err != nil {
		b.Fatal(err)
	}
	dec := NewDecoder(reg, DecoderOptions{})
	b.SetBytes(int64(len(msgs[0].Key) + len(msgs[0].Value)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := dec.Decode(ctx, msgs[0].Key, msgs[0].Value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkFraming(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = append(AppendFrameHeader(buf[:0], i&0xFFFFFF), 1, 2, 3)
		id, _, err := ParseFrame(buf)
		if err != nil || id != i&0xFFFFFF {
			b.Fatal(id, err)
		}
	}
}

func BenchmarkDecimalText(b *testing.B) {
	for name, s := range map[string]struct {
		text  string
		scale int
	}{
		"price": {"-1249.99", 2},
		"max65": {strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), 30},
	} {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf, _ = appendDecimalText(buf[:0], s.text, s.scale)
			}
		})
	}
}
