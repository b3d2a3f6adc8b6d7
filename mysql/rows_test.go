package mysql

import (
	"encoding/binary"
	"math"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// binaryRow builds a binary-protocol result row (COM_STMT_EXECUTE) of
// fields from their encoded values, none NULL.
func binaryRow(values [][]byte) gomysql.RowData {
	n := len(values)
	row := []byte{0}
	row = append(row, make([]byte, (n+7+2)/8)...) // NULL bitmap, offset 2
	for _, v := range values {
		row = append(row, v...)
	}
	return row
}

func lenenc(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// A row of the shape the bench tables have, through ConvertSQL: the per-row
// cost a snapshot pays beyond the server and the wire.
func BenchmarkConvertSQLRow(b *testing.B) {
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	dt := lenenc("2024-05-06 07:08:09.123456") // SelectColumns: CAST(col AS CHAR)
	cols := []struct {
		field *gomysql.Field
		value []byte
		conv  Converter
	}{
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_LONGLONG}, le64(123456789), Converter{Kind: KindInt64, Width: 8}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_LONG}, le32(42), Converter{Kind: KindInt32, Width: 4}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_DOUBLE}, le64(math.Float64bits(3.25)), Converter{Kind: KindDouble}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_NEWDECIMAL}, lenenc("1234.50"), Converter{Kind: KindDecimal}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_VAR_STRING}, lenenc("customer-123456@example.com"), Converter{Kind: KindText, Text: mustDecoder(b, "utf8mb4")}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_VAR_STRING}, lenenc("a note of some forty characters in text"), Converter{Kind: KindText, Text: mustDecoder(b, "utf8mb4")}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_VAR_STRING}, dt, Converter{Kind: KindDateTimeMicros}},
		{&gomysql.Field{Type: gomysql.MYSQL_TYPE_VAR_STRING}, dt, Converter{Kind: KindTimestamp, FSP: 6}},
	}
	var values [][]byte
	var fields []*gomysql.Field
	var convs []Converter
	for len(fields) < 20 {
		for _, c := range cols {
			if len(fields) == 20 {
				break
			}
			values, fields, convs = append(values, c.value), append(fields, c.field), append(convs, c.conv)
		}
	}
	row := binaryRow(values)
	dst, err := row.ParseBinary(fields, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst, _ = row.ParseBinary(fields, dst)
		for j := range dst {
			if _, _, err := convs[j].ConvertSQL(&dst[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func mustDecoder(b *testing.B, cs string) *TextDecoder {
	d, ok := NewTextDecoder(cs)
	if !ok {
		b.Fatalf("no decoder for %s", cs)
	}
	return d
}
