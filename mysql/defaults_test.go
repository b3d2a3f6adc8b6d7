package mysql

import (
	"reflect"
	"testing"

	"github.com/tidemark-cdc/tidemark/schema"
)

// COLUMN_DEFAULT texts as MariaDB 10.11's information_schema prints them
// (captured from the stack for the CREATE TABLE in the comments), and the
// canonical defaults Debezium 3.6.1 gave the same columns
// (integration.TestDebeziumDifferential's defaults table).
func TestColumnDefault(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		name     string
		col      schema.Column
		text     *string
		has      bool
		want     any
		debezium any
	}{
		{"INT NOT NULL DEFAULT 42", schema.Column{Type: schema.TypeInt}, str("42"), true, int32(42), nil},
		{"INT NOT NULL", schema.Column{Type: schema.TypeInt}, nil, false, nil, nil},
		{"VARCHAR(5) DEFAULT NULL", schema.Column{Type: schema.TypeChar, Nullable: true}, str("NULL"), true, nil, nil},
		{"INT UNSIGNED DEFAULT 4294967295", schema.Column{Type: schema.TypeInt, Unsigned: true}, str("4294967295"), true, int64(4294967295), nil},
		{"BIGINT UNSIGNED DEFAULT 18446744073709551615", schema.Column{Type: schema.TypeBigInt, Unsigned: true}, str("18446744073709551615"), true, uint64(18446744073709551615), nil},
		{"DECIMAL(5,0) DEFAULT -5", schema.Column{Type: schema.TypeDecimal, Precision: 5}, str("-5"), true, "-5", nil},
		{"DECIMAL(10,2) DEFAULT 3.1", schema.Column{Type: schema.TypeDecimal, Precision: 10, Scale: 2}, str("3.10"), true, "3.10", nil},
		{"FLOAT(7,3) DEFAULT 1.25", schema.Column{Type: schema.TypeFloat, Scale: 3}, str("1.250"), true, 1.25, nil},
		{"FLOAT DEFAULT 1.5", schema.Column{Type: schema.TypeFloat}, str("1.5"), true, float32(1.5), nil},
		{"BIT(12) DEFAULT b'101'", schema.Column{Type: schema.TypeBit, Length: 12}, str("b'101'"), true, []byte{5, 0}, nil},
		{"BIT(1) DEFAULT b'1'", schema.Column{Type: schema.TypeBit, Length: 1}, str("b'1'"), true, true, nil},
		{`VARCHAR(20) DEFAULT 'it''s "q"'`, schema.Column{Type: schema.TypeChar}, str(`'it''s "q"'`), true, `it's "q"`, `it''s "q"`},
		{`VARCHAR(20) DEFAULT 'a\\b\nc'`, schema.Column{Type: schema.TypeChar}, str(`'a\\b\nc'`), true, "a\\b\nc", `a\\b\nc`},
		{"BINARY(4) DEFAULT 'ab'", schema.Column{Type: schema.TypeBinary, Length: 4, RawType: "binary(4)"}, str(`'ab\0\0'`), true, []byte("ab\x00\x00"), []byte(`ab\0\0`)},
		{"VARBINARY(4) DEFAULT 0x0102", schema.Column{Type: schema.TypeBinary, Length: 4, RawType: "varbinary(4)"}, str("'\x01\x02'"), true, []byte{1, 2}, nil},
		{"ENUM('a','b') DEFAULT 'b'", schema.Column{Type: schema.TypeEnum, Values: []string{"a", "b"}}, str("'b'"), true, "b", nil},
		{"YEAR DEFAULT 2024", schema.Column{Type: schema.TypeYear}, str("2024"), true, int32(2024), nil},
		{"DATE DEFAULT '2024-02-29'", schema.Column{Type: schema.TypeDate}, str("'2024-02-29'"), true, int32(19782), nil},
		{"DATE NOT NULL DEFAULT '0000-00-00'", schema.Column{Type: schema.TypeDate}, str("'0000-00-00'"), true, int32(0), nil},
		{"TIME NOT NULL DEFAULT '-01:02:03'", schema.Column{Type: schema.TypeTime}, str("'-01:02:03'"), true, int64(-3723000000), nil},
		{"DATETIME(6) DEFAULT '2024-01-02 03:04:05.123456'", schema.Column{Type: schema.TypeDateTime, FSP: 6}, str("'2024-01-02 03:04:05.123456'"), true, int64(1704164645123456), nil},
		{"DATETIME DEFAULT CURRENT_TIMESTAMP", schema.Column{Type: schema.TypeDateTime}, str("current_timestamp()"), true, int64(0), nil},
		{"TIMESTAMP(3) DEFAULT '2024-01-02 03:04:05.678'", schema.Column{Type: schema.TypeTimestamp, FSP: 3}, str("'2024-01-02 03:04:05.678'"), true, "2024-01-02T03:04:05.678Z", nil},
		{"TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP(3)", schema.Column{Type: schema.TypeTimestamp, FSP: 3}, str("current_timestamp(3)"), true, "1970-01-01T00:00:00Z", nil},
		{"INT DEFAULT (1+1)", schema.Column{Type: schema.TypeInt, Nullable: true}, str("(1 + 1)"), false, nil, nil},
	} {
		col := c.col
		col.Name = "c"
		if err := ColumnDefault(&col, c.text); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if col.HasDefault != c.has || !reflect.DeepEqual(col.Default, c.want) || !reflect.DeepEqual(col.DebeziumDefault, c.debezium) {
			t.Errorf("%s: has %v default %#v debezium %#v, want %v %#v %#v", c.name, col.HasDefault, col.Default, col.DebeziumDefault, c.has, c.want, c.debezium)
		}
	}
	bad := schema.Column{Name: "c", Type: schema.TypeInt}
	if err := ColumnDefault(&bad, func() *string { s := "'x'"; return &s }()); err == nil {
		t.Error("INT DEFAULT 'x': no error")
	}
}
