package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// Defaults render as Avro JSON that an Avro library accepts (the default
// must match the union's first branch), in Debezium's shape.
func TestAvroDefaults(t *testing.T) {
	tbl := &Table{Database: "d", Name: "t", PrimaryKey: []int{0}, Columns: []Column{
		{Name: "id", Type: TypeInt},
		{Name: "i", Type: TypeInt, HasDefault: true, Default: int32(42)},
		{Name: "ineg", Type: TypeInt, Nullable: true, HasDefault: true, Default: int32(-7)},
		{Name: "ti", Type: TypeTinyInt, Nullable: true, HasDefault: true, Default: int32(1)},
		{Name: "bi", Type: TypeBigInt, HasDefault: true, Default: int64(-9223372036854775808)},
		{Name: "biu", Type: TypeBigInt, Unsigned: true, Nullable: true, HasDefault: true, Default: uint64(18446744073709551615)},
		{Name: "dc", Type: TypeDecimal, Precision: 10, Scale: 2, Nullable: true, HasDefault: true, Default: "3.14"},
		{Name: "dcn", Type: TypeDecimal, Precision: 5, Scale: 0, HasDefault: true, Default: "-5"},
		{Name: "f", Type: TypeFloat, Nullable: true, HasDefault: true, Default: float32(1.5)},
		{Name: "fmd", Type: TypeFloat, Scale: 3, Nullable: true, HasDefault: true, Default: 1.25},
		{Name: "dbl", Type: TypeDouble, HasDefault: true, Default: 2.0},
		{Name: "b1", Type: TypeBit, Length: 1, Nullable: true, HasDefault: true, Default: true},
		{Name: "b12", Type: TypeBit, Length: 12, Nullable: true, HasDefault: true, Default: []byte{5, 0}},
		{Name: "vq", Type: TypeChar, Nullable: true, HasDefault: true, Default: "it's \"q\"", DebeziumDefault: "it''s \"q\""},
		{Name: "bin", Type: TypeBinary, Nullable: true, HasDefault: true, Default: []byte("ab\x00\x00"), DebeziumDefault: []byte(`ab\0\0`)},
		{Name: "hx", Type: TypeBinary, Nullable: true, HasDefault: true, Default: []byte{1, 2, 0xff}},
		{Name: "e", Type: TypeEnum, Values: []string{"a", "b"}, HasDefault: true, Default: "b"},
		{Name: "y", Type: TypeYear, Nullable: true, HasDefault: true, Default: int32(2024)},
		{Name: "ts", Type: TypeTimestamp, HasDefault: true, Default: "1970-01-01T00:00:00Z"},
		{Name: "nul", Type: TypeInt, Nullable: true, HasDefault: true}, // DEFAULT NULL
	}}
	for _, opts := range []AvroOptions{{}, {BigIntUnsignedLong: true, DebeziumStringDefaults: true}} {
		s, err := AvroSchemasFor("p.d.t", tbl, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := avro.Parse(s.Value); err != nil {
			t.Fatalf("%+v: hamba/avro rejects the schema: %v\n%s", opts, err, s.Value)
		}
		var env struct {
			Fields []struct {
				Type json.RawMessage `json:"type"`
			} `json:"fields"`
		}
		if err := json.Unmarshal([]byte(s.Value), &env); err != nil {
			t.Fatal(err)
		}
		var before []json.RawMessage
		_ = json.Unmarshal(env.Fields[0].Type, &before)
		var value struct {
			Fields []map[string]json.RawMessage `json:"fields"`
		}
		_ = json.Unmarshal(before[1], &value)
		got := map[string]string{}
		for _, f := range value.Fields {
			var name string
			_ = json.Unmarshal(f["name"], &name)
			got[name] = string(f["type"]) + " default=" + string(f["default"])
		}
		want := map[string]string{
			"i":    `{"type":"int","connect.default":42} default=42`,
			"ineg": `[{"type":"int","connect.default":-7},"null"] default=-7`,
			"ti":   `[{"type":"int","connect.default":1,"connect.type":"int16"},"null"] default=1`,
			"bi":   `{"type":"long","connect.default":-9223372036854775808} default=-9223372036854775808`,
			"dcn":  `{"type":"bytes","scale":0,"precision":5,"connect.version":1,"connect.parameters":{"scale":"0","connect.decimal.precision":"5"},"connect.default":"û","connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"} default="û"`,
			"fmd":  `[{"type":"double","connect.default":1.25},"null"] default=1.25`,
			"dbl":  `{"type":"double","connect.default":2.0} default=2.0`,
			"b12":  `[{"type":"bytes","connect.version":1,"connect.parameters":{"length":"12"},"connect.default":"\u0005\u0000","connect.name":"io.debezium.data.Bits"},"null"] default="\u0005\u0000"`,
			"hx":   `[{"type":"bytes","connect.default":"\u0001\u0002ÿ"},"null"] default="\u0001\u0002ÿ"`,
			"nul":  `["null","int"] default=null`,
		}
		if opts.DebeziumStringDefaults {
			want["vq"] = `[{"type":"string","connect.default":"it''s \"q\""},"null"] default="it''s \"q\""`
			want["biu"] = `[{"type":"long","connect.default":9223372036854775807},"null"] default=9223372036854775807`
		} else {
			want["vq"] = `[{"type":"string","connect.default":"it's \"q\""},"null"] default="it's \"q\""`
			want["bin"] = `[{"type":"bytes","connect.default":"ab\u0000\u0000"},"null"] default="ab\u0000\u0000"`
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%+v: field %s:\n got %s\nwant %s", opts, k, got[k], w)
			}
		}
		if strings.Contains(s.Key, "default") {
			t.Errorf("key schema has a default: %s", s.Key)
		}
	}
}
