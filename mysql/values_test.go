package mysql

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/schema"
)

func textConv(t *testing.T, charset string) *Converter {
	t.Helper()
	d, ok := NewTextDecoder(charset)
	if !ok {
		t.Fatalf("no decoder for %s", charset)
	}
	return &Converter{Kind: KindText, Name: "c", Text: d}
}

func int32p(v int32) *int32 { return &v }

// TestConvert checks every conversion against the canonical values of
// schema/value.go, from the Go values go-mysql decodes (see values.go for
// which type each binlog type arrives as).
func TestConvert(t *testing.T) {
	ints := func(kind ValueKind, width uint8, unsigned bool) *Converter {
		return &Converter{Kind: kind, Name: "c", Width: width, Unsigned: unsigned}
	}
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	local := time.FixedZone("X", 5*3600+1800)
	enum := &Converter{Kind: KindEnum, Name: "e", Enum: []any{"a", "é"}}
	set := &Converter{Kind: KindSet, Name: "s", Set: []string{"r", "g", "b"}}
	tests := []struct {
		name string
		c    *Converter
		in   any
		want any
	}{
		// Integers: canonical type by width and signedness, whatever
		// signedness go-mysql decoded with.
		{"tinyint min", ints(KindInt32, 1, false), int8(-128), int32(-128)},
		{"tinyint unsigned max (signed decode)", ints(KindInt32, 1, true), int8(-1), int32(255)},
		{"tinyint unsigned max", ints(KindInt32, 1, true), uint8(255), int32(255)},
		{"smallint min", ints(KindInt32, 2, false), int16(math.MinInt16), int32(math.MinInt16)},
		{"smallint unsigned max (signed decode)", ints(KindInt32, 2, true), int16(-1), int32(65535)},
		{"mediumint min", ints(KindInt32, 3, false), int32(-8388608), int32(-8388608)},
		{"mediumint max", ints(KindInt32, 3, false), int32(8388607), int32(8388607)},
		{"mediumint unsigned max", ints(KindInt32, 3, true), uint32(16777215), int32(16777215)},
		{"mediumint unsigned max (signed decode)", ints(KindInt32, 3, true), int32(-1), int32(16777215)},
		{"int min", ints(KindInt32, 4, false), int32(math.MinInt32), int32(math.MinInt32)},
		{"int unsigned max", ints(KindInt64, 4, true), uint32(math.MaxUint32), int64(math.MaxUint32)},
		{"int unsigned max (signed decode)", ints(KindInt64, 4, true), int32(-1), int64(math.MaxUint32)},
		{"bigint min", ints(KindInt64, 8, false), int64(math.MinInt64), int64(math.MinInt64)},
		{"bigint unsigned max", ints(KindUint64, 8, true), uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{"bigint unsigned max (signed decode)", ints(KindUint64, 8, true), int64(-1), uint64(math.MaxUint64)},
		{"bigint unsigned 2^63", ints(KindUint64, 8, true), uint64(1 << 63), uint64(1 << 63)},
		{"year", &Converter{Kind: KindYear}, 2155, int32(2155)},
		{"year zero", &Converter{Kind: KindYear}, 0, int32(0)},

		{"decimal", &Converter{Kind: KindDecimal}, "-12.340", "-12.340"},
		{"decimal extreme", &Converter{Kind: KindDecimal}, "-99999999999999999999999999999999999.999999999999999999999999999999", "-99999999999999999999999999999999999.999999999999999999999999999999"},
		{"decimal negative zero", &Converter{Kind: KindDecimal}, "-0.00", "0.00"},
		{"decimal tiny negative", &Converter{Kind: KindDecimal}, "-0.01", "-0.01"},
		{"float", &Converter{Kind: KindFloat}, float32(-1.5), float32(-1.5)},
		{"double", &Converter{Kind: KindDouble}, math.MaxFloat64, math.MaxFloat64},

		{"bit(1) on", &Converter{Kind: KindBool}, int64(1), true},
		{"bit(1) off", &Converter{Kind: KindBool}, int64(0), false},
		{"bit(12) little-endian", &Converter{Kind: KindBits, Length: 2}, int64(0x0a0b), []byte{0x0b, 0x0a}},
		{"bit(64) high bit", &Converter{Kind: KindBits, Length: 8}, int64(-9223372036854775807), []byte{1, 0, 0, 0, 0, 0, 0, 0x80}},

		{"utf8mb4 emoji", textConv(t, "utf8mb4"), "😀 ok", "😀 ok"},
		{"utf8mb4 text from blob", textConv(t, "utf8mb4"), []byte("é"), "é"},
		{"utf8mb4 invalid bytes replaced", textConv(t, "utf8mb4"), "a\xffb", "a\uFFFDb"},
		{"latin1 accents", textConv(t, "latin1"), "Cr\xe8me br\xfbl\xe9e", "Crème brûlée"},
		{"latin1 cp1252 and C1", textConv(t, "latin1"), "\x80\x81\x8d\x8f\x90\x9d", "€\u0081\u008d\u008f\u0090\u009d"},
		{"ascii", textConv(t, "ascii"), "plain", "plain"},
		{"ucs2", textConv(t, "ucs2"), "\x01\x5d\x00a", "ŝa"},
		{"utf16 surrogate pair", textConv(t, "utf16"), "\xd8\x3d\xde\x00", "😀"},
		{"utf16le", textConv(t, "utf16le"), "\x5d\x01a\x00", "ŝa"},
		{"utf32", textConv(t, "utf32"), "\x00\x01\xf6\x00", "😀"},
		{"gbk", textConv(t, "gbk"), "\xc4\xe3\xba\xc3", "你好"},
		{"cp1251", textConv(t, "cp1251"), "\xcf\xf0\xe8", "При"},

		{"varbinary", &Converter{Kind: KindBytes}, "\xff\x00", []byte{0xff, 0}},
		{"blob", &Converter{Kind: KindBytes}, []byte{0, 1}, []byte{0, 1}},
		{"binary(8) restores stripped zeros", &Converter{Kind: KindBinaryFixed, Length: 8}, "\x01\x02", []byte{1, 2, 0, 0, 0, 0, 0, 0}},
		{"binary(2) all zeros", &Converter{Kind: KindBinaryFixed, Length: 2}, "", []byte{0, 0}},

		{"enum", enum, int64(2), "é"},
		{"enum empty (invalid value)", enum, int64(0), ""},
		{"set one", set, int64(2), "g"},
		{"set several", set, int64(5), "r,b"},
		{"set empty", set, int64(0), ""},

		{"mysql json", &Converter{Kind: KindJSON, Text: textConv(t, "utf8mb4").Text, BinaryJSON: true}, `{"a":1}`, `{"a":1}`},
		// Debezium 3.6.1's convertJson: "{}" for NOT NULL, NULL for nullable.
		{"mysql json empty document", &Converter{Kind: KindJSON, Text: textConv(t, "utf8mb4").Text, BinaryJSON: true}, []byte{}, "{}"},
		{"mysql json empty document, nullable", &Converter{Kind: KindJSON, Text: textConv(t, "utf8mb4").Text, BinaryJSON: true, Nullable: true}, []byte{}, nil},
		{"mariadb json (longtext)", &Converter{Kind: KindJSON, Text: textConv(t, "utf8mb4").Text}, []byte(`{"a": [1, 2.50]}`), `{"a": [1, 2.50]}`},

		{"date", &Converter{Kind: KindDate, Nullable: true}, "2024-05-06", int32(19849)},
		{"date min", &Converter{Kind: KindDate, Nullable: true}, "1000-01-01", int32(-354285)},
		{"date max", &Converter{Kind: KindDate, Nullable: true}, "9999-12-31", int32(2932896)},
		{"date zero nullable", &Converter{Kind: KindDate, Nullable: true, Zero: int32(0)}, "0000-00-00", nil},
		{"date zero not null", &Converter{Kind: KindDate, Zero: int32(0)}, "0000-00-00", int32(0)},
		{"date partly zero", &Converter{Kind: KindDate, Nullable: true}, "2024-05-00", nil},

		{"time min", &Converter{Kind: KindTime}, "-838:59:59.000000", int64(-3020399000000)},
		{"time max", &Converter{Kind: KindTime}, "838:59:59", int64(3020399000000)},
		{"time negative fraction", &Converter{Kind: KindTime}, "-00:00:00.5", int64(-500000)},
		{"time fsp 3", &Converter{Kind: KindTime}, "12:34:56.789", int64(45296789000)},

		{"datetime(6)", &Converter{Kind: KindDateTimeMicros}, utc("2024-05-06 07:08:09.123456"), int64(1714979289123456)},
		{"datetime(6) before 1970 as text", &Converter{Kind: KindDateTimeMicros}, "1969-12-31 23:59:59.999999", int64(-1)},
		{"datetime(6) min", &Converter{Kind: KindDateTimeMicros}, "1000-01-01 00:00:00.000000", int64(-30610224000000000)},
		{"datetime(3) ms", &Converter{Kind: KindDateTimeMillis}, utc("2024-05-06 07:08:09.123"), int64(1714979289123)},
		{"datetime(3) negative ms", &Converter{Kind: KindDateTimeMillis}, "1969-12-31 23:59:59.999", int64(-1)},
		{"datetime zero nullable", &Converter{Kind: KindDateTimeMicros, Nullable: true}, "0000-00-00 00:00:00.000000", nil},
		{"datetime zero not null", &Converter{Kind: KindDateTimeMicros, Zero: int64(0)}, "0000-00-00 00:00:00", int64(0)},
		{"datetime partly zero", &Converter{Kind: KindDateTimeMillis, Nullable: true}, "2024-00-10 00:00:00.000", nil},

		{"timestamp(6)", &Converter{Kind: KindTimestamp, FSP: 6}, time.Unix(1714979289, 123456000).In(local), "2024-05-06T07:08:09.123456Z"},
		{"timestamp(0)", &Converter{Kind: KindTimestamp}, time.Unix(1, 0), "1970-01-01T00:00:01Z"},
		{"timestamp(3)", &Converter{Kind: KindTimestamp, FSP: 3}, time.Unix(2147483647, 999000000), "2038-01-19T03:14:07.999Z"},
		{"timestamp(2) keeps zero digits", &Converter{Kind: KindTimestamp, FSP: 2}, time.Unix(1, 0), "1970-01-01T00:00:01.00Z"},
		{"timestamp zero nullable", &Converter{Kind: KindTimestamp, FSP: 6, Nullable: true}, "0000-00-00 00:00:00.000000", nil},
		{"timestamp zero not null", &Converter{Kind: KindTimestamp, FSP: 3, Zero: "1970-01-01T00:00:00.000Z"}, "0000-00-00 00:00:00.000", "1970-01-01T00:00:00.000Z"},

		{"geometry with srid", &Converter{Kind: KindGeometry}, []byte{0xe6, 0x10, 0, 0, 1, 1, 0, 0, 0}, schema.Geometry{WKB: []byte{1, 1, 0, 0, 0}, SRID: int32p(4326)}},
		{"geometry srid 0 is unset", &Converter{Kind: KindGeometry}, []byte{0, 0, 0, 0, 1, 7, 0, 0, 0, 0, 0, 0, 0}, schema.Geometry{WKB: []byte{1, 7, 0, 0, 0, 0, 0, 0, 0}}},

		{"uuid", &Converter{Kind: KindUUID}, "l\xcdx\f\xba\xba\x10&\x95d[\x8ce`$\xdb", "6ccd780c-baba-1026-9564-5b8c656024db"},
		{"uuid trailing zeros stripped", &Converter{Kind: KindUUID}, "\x01", "01000000-0000-0000-0000-000000000000"},
		{"inet4", &Converter{Kind: KindInet4}, "\n\x01\x02\x03", "10.1.2.3"},
		{"inet4 stripped", &Converter{Kind: KindInet4}, "\n", "10.0.0.0"},
		{"inet6 mapped", &Converter{Kind: KindInet6}, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04", "::ffff:1.2.3.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, size, err := tt.c.Convert(tt.in)
			if err != nil {
				t.Fatalf("convert(%#v): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("convert(%#v) = %#v (%T), want %#v (%T)", tt.in, got, got, tt.want, tt.want)
			}
			if got != nil && size <= 0 {
				t.Errorf("size estimate %d", size)
			}
		})
	}
}

func TestConvertRejects(t *testing.T) {
	tests := []struct {
		name string
		c    *Converter
		in   any
	}{
		{"enum index beyond members", &Converter{Kind: KindEnum, Enum: []any{"a"}}, int64(2)},
		{"set bit beyond members", &Converter{Kind: KindSet, Set: []string{"a"}}, int64(2)},
		{"geometry without srid", &Converter{Kind: KindGeometry}, []byte{1, 2}},
		{"partial json", &Converter{Kind: KindJSON, BinaryJSON: true}, &replication.JsonDiff{}},
		{"wrong go type", &Converter{Kind: KindInt32, Width: 4}, "12"},
		{"malformed time", &Converter{Kind: KindTime}, "12:3"},
		{"malformed date", &Converter{Kind: KindDate}, "2024/05/06"},
		{"uuid too long", &Converter{Kind: KindUUID}, "0123456789abcdefX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.c.Convert(tt.in)
			if !errors.Is(err, ErrUndecodable) {
				t.Fatalf("convert(%#v) error %v, want ErrUndecodable", tt.in, err)
			}
		})
	}
}

// The reused-interface fast paths must not allocate.
func TestConvertNoAlloc(t *testing.T) {
	u := textConv(t, "utf8mb4")
	cases := []struct {
		c  *Converter
		in any
	}{
		{&Converter{Kind: KindInt32, Width: 4}, any(int32(-70000))},
		{&Converter{Kind: KindInt64, Width: 8}, any(int64(-70000))},
		{&Converter{Kind: KindDouble}, any(1.5)},
		{&Converter{Kind: KindDecimal}, any("12.50")},
		{u, any("a VARCHAR value")},
		{&Converter{Kind: KindEnum, Enum: []any{"a"}}, any(int64(1))},
		{&Converter{Kind: KindYear}, any(2024)},
		{&Converter{Kind: KindBytes}, any([]byte{1})},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, func() { _, _, _ = c.c.Convert(c.in) }); n != 0 {
			t.Errorf("kind %d: %v allocations per conversion", c.c.Kind, n)
		}
	}
}
