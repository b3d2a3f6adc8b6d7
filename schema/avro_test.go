package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

var update = flag.Bool("update", false, "rewrite testdata/*.avsc golden files")

// customers is docs/wire-format.md's example table ("The Envelope").
func customers() *Table {
	return &Table{
		Database: "inventory", Name: "customers",
		Columns: []Column{
			{Name: "id", Type: TypeInt},
			{Name: "first_name", Type: TypeChar, Length: 255, Charset: "utf8mb4"},
			{Name: "email", Type: TypeChar, Length: 255, Nullable: true, Charset: "utf8mb4"},
		},
		PrimaryKey: []int{0},
	}
}

// typeMatrix has one column of every mapped type, NOT NULL and nullable
// where it matters. CREATE TABLE shape:
//
//	CREATE TABLE shop.everything (
//	  id BIGINT UNSIGNED NOT NULL, region TINYINT NOT NULL, ...,
//	  PRIMARY KEY (region, id))
func typeMatrix() *Table {
	return &Table{
		Database: "shop", Name: "everything",
		Columns: []Column{
			{Name: "id", Type: TypeBigInt, Unsigned: true, RawType: "bigint(20) unsigned"},
			{Name: "region", Type: TypeTinyInt},
			{Name: "t_tiny_u", Type: TypeTinyInt, Unsigned: true, Nullable: true},
			{Name: "t_small", Type: TypeSmallInt, Nullable: true},
			{Name: "t_small_u", Type: TypeSmallInt, Unsigned: true, Nullable: true},
			{Name: "t_medium", Type: TypeMediumInt, Nullable: true},
			{Name: "t_medium_u", Type: TypeMediumInt, Unsigned: true, Nullable: true},
			{Name: "t_int", Type: TypeInt, Nullable: true},
			{Name: "t_int_u", Type: TypeInt, Unsigned: true, Nullable: true},
			{Name: "t_big", Type: TypeBigInt, Nullable: true},
			{Name: "t_big_u", Type: TypeBigInt, Unsigned: true, Nullable: true},
			{Name: "t_dec", Type: TypeDecimal, Precision: 10, Scale: 2},
			{Name: "t_dec_max", Type: TypeDecimal, Precision: 65, Scale: 30, Nullable: true},
			{Name: "t_float", Type: TypeFloat, Nullable: true},
			{Name: "t_float_md", Type: TypeFloat, Precision: 10, Scale: 2, Nullable: true},
			{Name: "t_double", Type: TypeDouble, Nullable: true},
			{Name: "t_bool", Type: TypeBit, Length: 1, Nullable: true},
			{Name: "t_bits", Type: TypeBit, Length: 64, Nullable: true},
			{Name: "t_char", Type: TypeChar, Length: 10, Charset: "latin1"},
			{Name: "t_text", Type: TypeText, Nullable: true, Charset: "utf8mb4"},
			{Name: "t_binary", Type: TypeBinary, Length: 16, Nullable: true},
			{Name: "t_blob", Type: TypeBlob, Nullable: true},
			{Name: "t_enum", Type: TypeEnum, Values: []string{"small", "medium", "large"}, Nullable: true},
			{Name: "t_set", Type: TypeSet, Values: []string{"a", "b", "c"}, Nullable: true},
			{Name: "t_json", Type: TypeJSON, Nullable: true},
			{Name: "t_date", Type: TypeDate, Nullable: true},
			{Name: "t_time", Type: TypeTime, FSP: 6, Nullable: true},
			{Name: "t_datetime", Type: TypeDateTime, Nullable: true},
			{Name: "t_datetime3", Type: TypeDateTime, FSP: 3, Nullable: true},
			{Name: "t_datetime6", Type: TypeDateTime, FSP: 6, Nullable: true},
			{Name: "t_timestamp", Type: TypeTimestamp, FSP: 6, Nullable: true},
			{Name: "t_year", Type: TypeYear, Nullable: true},
			{Name: "t_geom", Type: TypeGeometry, RawType: "geometry"},
			{Name: "t_geom2", Type: TypeGeometry, RawType: "polygon", Nullable: true},
			{Name: "t_point", Type: TypeGeometry, RawType: "point", Nullable: true},
			{Name: "t_vector", Type: TypeVector, Length: 3, Nullable: true},
		},
		PrimaryKey: []int{1, 0},
	}
}

type goldenCase struct {
	name  string
	topic string
	table *Table
	opts  AvroOptions
}

func goldenCases() []goldenCase {
	noPK := &Table{Database: "shop", Name: "audit_log", Columns: []Column{
		{Name: "at", Type: TypeDateTime, FSP: 6},
		{Name: "message", Type: TypeText, Nullable: true},
	}}
	odd := &Table{Database: "shop-eu", Name: "odd names", Columns: []Column{
		{Name: "1st", Type: TypeInt},
		{Name: "e-mail", Type: TypeChar, Nullable: true},
		{Name: "prix€", Type: TypeDecimal, Precision: 8, Scale: 3},
		{Name: "🙂", Type: TypeChar, Nullable: true},
	}, PrimaryKey: []int{0}}
	return []goldenCase{
		{"customers", "dbserver1.inventory.customers", customers(), AvroOptions{}},
		{"type_matrix", "tidemark.shop.everything", typeMatrix(), AvroOptions{}},
		{"type_matrix_long", "tidemark.shop.everything", typeMatrix(), AvroOptions{BigIntUnsignedLong: true}},
		{"sharded_key", "tidemark.inventory.customers", customers(), AvroOptions{KeyShardField: "__dbz__physicalTableIdentifier"}},
		{"no_pk", "tidemark.shop.audit_log", noPK, AvroOptions{}},
		{"odd_names", "tide-mark.shop-eu.odd names", odd, AvroOptions{}},
	}
}

// TestAvroGolden compares generated schemas with testdata/*.avsc (indented
// copies of the exact registered text). Refresh with: go test ./schema -update
func TestAvroGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AvroSchemasFor(tc.topic, tc.table, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			for _, part := range []struct{ label, text string }{{"key", got.Key}, {"value", got.Value}} {
				buf.WriteString("// " + part.label + "\n")
				if part.text == "" {
					buf.WriteString("null\n")
					continue
				}
				if err := json.Indent(&buf, []byte(part.text), "", "  "); err != nil {
					t.Fatalf("%s schema is not JSON: %v\n%s", part.label, err, part.text)
				}
				buf.WriteByte('\n')
			}
			path := filepath.Join("testdata", tc.name+".avsc")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("schemas differ from %s (run with -update after checking the diff):\n%s", path, buf.String())
			}
		})
	}
}

// TestAvroParses checks that every generated schema is valid Avro for an
// independent parser (hamba/avro, which enforces name rules and defaults).
func TestAvroParses(t *testing.T) {
	for _, tc := range goldenCases() {
		got, err := AvroSchemasFor(tc.topic, tc.table, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, text := range []string{got.Key, got.Value} {
			if text == "" {
				continue
			}
			if _, err := avro.ParseWithCache(text, "", &avro.SchemaCache{}); err != nil {
				t.Errorf("%s: hamba cannot parse schema: %v\n%s", tc.name, err, text)
			}
		}
	}
}

// wireCustomers is docs/wire-format.md's Envelope example verbatim.
const wireCustomers = `{"type":"record","name":"Envelope","namespace":"dbserver1.inventory.customers",
 "fields":[
  {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
      {"name":"id","type":"int"},
      {"name":"first_name","type":"string"},
      {"name":"email","type":["null","string"],"default":null}],
     "connect.name":"dbserver1.inventory.customers.Value"}],"default":null},
  {"name":"after","type":["null","Value"],"default":null},
  {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":[
      {"name":"version","type":"string"},
      {"name":"connector","type":"string"},
      {"name":"name","type":"string"},
      {"name":"ts_ms","type":"long"},
      {"name":"snapshot","type":[{"type":"string","connect.version":1,
          "connect.parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},
          "connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"],"default":"false"},
      {"name":"db","type":"string"},
      {"name":"sequence","type":["null","string"],"default":null},
      {"name":"ts_us","type":["null","long"],"default":null},
      {"name":"ts_ns","type":["null","long"],"default":null},
      {"name":"table","type":["null","string"],"default":null},
      {"name":"server_id","type":"long"},
      {"name":"gtid","type":["null","string"],"default":null},
      {"name":"file","type":"string"},
      {"name":"pos","type":"long"},
      {"name":"row","type":"int"},
      {"name":"thread","type":["null","long"],"default":null},
      {"name":"query","type":["null","string"],"default":null}],
     "connect.version":1,"connect.name":"io.debezium.connector.mysql.Source"}},
  {"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event","fields":[
      {"name":"id","type":"string"},
      {"name":"total_order","type":"long"},
      {"name":"data_collection_order","type":"long"}],
     "connect.version":1,"connect.name":"event.block"}],"default":null},
  {"name":"op","type":"string"},
  {"name":"ts_ms","type":["null","long"],"default":null},
  {"name":"ts_us","type":["null","long"],"default":null},
  {"name":"ts_ns","type":["null","long"],"default":null}],
 "connect.version":2,"connect.name":"dbserver1.inventory.customers.Envelope"}`

// TestAvroCustomersMatchesWire: the customers envelope equals docs/wire-format.md's,
// field for field (JSON key order aside), and so does its key.
func TestAvroCustomersMatchesWire(t *testing.T) {
	got, err := AvroSchemasFor("dbserver1.inventory.customers", customers(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertSameJSON(t, "value", got.Value, wireCustomers)
	// The literal is also what our serialisation emits, key order included.
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(wireCustomers)); err != nil {
		t.Fatal(err)
	}
	if compact.String() != got.Value {
		t.Errorf("value schema text differs from docs/wire-format.md's in order or spelling:\n got %s\nwant %s", got.Value, compact.String())
	}
	assertSameJSON(t, "key", got.Key, `{"type":"record","name":"Key","namespace":"dbserver1.inventory.customers",
		"fields":[{"name":"id","type":"int"}],"connect.name":"dbserver1.inventory.customers.Key"}`)
}

func assertSameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s (want): %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s schema differs:\n got %s\nwant %s", what, got, want)
	}
}

// TestAvroColumnTypes pins the Connect properties of individual types
// against what AvroData writes for Debezium's schemas.
func TestAvroColumnTypes(t *testing.T) {
	cases := []struct {
		col  Column
		opts AvroOptions
		want string
	}{
		{Column{Type: TypeTinyInt}, AvroOptions{}, `{"type":"int","connect.type":"int16"}`},
		{Column{Type: TypeTinyInt, Unsigned: true}, AvroOptions{}, `{"type":"int","connect.type":"int16"}`},
		{Column{Type: TypeSmallInt}, AvroOptions{}, `{"type":"int","connect.type":"int16"}`},
		{Column{Type: TypeSmallInt, Unsigned: true}, AvroOptions{}, `"int"`},
		{Column{Type: TypeMediumInt, Unsigned: true}, AvroOptions{}, `"int"`},
		{Column{Type: TypeInt, Unsigned: true}, AvroOptions{}, `"long"`},
		{Column{Type: TypeBigInt, Unsigned: true}, AvroOptions{}, `{"type":"bytes","scale":0,"precision":20,"connect.version":1,"connect.parameters":{"scale":"0","connect.decimal.precision":"20"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}`},
		{Column{Type: TypeBigInt, Unsigned: true}, AvroOptions{BigIntUnsignedLong: true}, `"long"`},
		{Column{Type: TypeDecimal, Precision: 10, Scale: 2}, AvroOptions{}, `{"type":"bytes","scale":2,"precision":10,"connect.version":1,"connect.parameters":{"scale":"2","connect.decimal.precision":"10"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}`},
		{Column{Type: TypeBit, Length: 1}, AvroOptions{}, `"boolean"`},
		{Column{Type: TypeBit, Length: 12}, AvroOptions{}, `{"type":"bytes","connect.version":1,"connect.parameters":{"length":"12"},"connect.name":"io.debezium.data.Bits"}`},
		{Column{Type: TypeEnum, Values: []string{"x", "y z"}}, AvroOptions{}, `{"type":"string","connect.version":1,"connect.parameters":{"allowed":"x,y z"},"connect.name":"io.debezium.data.Enum"}`},
		{Column{Type: TypeSet, Values: []string{"a"}}, AvroOptions{}, `{"type":"string","connect.version":1,"connect.parameters":{"allowed":"a"},"connect.name":"io.debezium.data.EnumSet"}`},
		{Column{Type: TypeJSON}, AvroOptions{}, `{"type":"string","connect.version":1,"connect.name":"io.debezium.data.Json"}`},
		{Column{Type: TypeYear}, AvroOptions{}, `{"type":"int","connect.version":1,"connect.name":"io.debezium.time.Year"}`},
		{Column{Type: TypeDate}, AvroOptions{}, `{"type":"int","connect.version":1,"connect.name":"io.debezium.time.Date"}`},
		{Column{Type: TypeTime, FSP: 3}, AvroOptions{}, `{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTime"}`},
		{Column{Type: TypeDateTime, FSP: 3}, AvroOptions{}, `{"type":"long","connect.version":1,"connect.name":"io.debezium.time.Timestamp"}`},
		{Column{Type: TypeDateTime, FSP: 4}, AvroOptions{}, `{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTimestamp"}`},
		{Column{Type: TypeTimestamp}, AvroOptions{}, `{"type":"string","connect.version":1,"connect.name":"io.debezium.time.ZonedTimestamp"}`},
		{Column{Type: TypeFloat}, AvroOptions{}, `"float"`},
		{Column{Type: TypeFloat, Precision: 7, Scale: 3}, AvroOptions{}, `"double"`},
		{Column{Type: TypeVector, Length: 4}, AvroOptions{}, `{"type":"array","items":"float","connect.version":1,"connect.name":"io.debezium.data.FloatVector"}`},
		{Column{Type: TypeGeometry}, AvroOptions{}, `{"type":"record","name":"Geometry","namespace":"io.debezium.data.geometry","fields":[{"name":"wkb","type":"bytes"},{"name":"srid","type":["null","int"],"default":null}],"connect.doc":"Geometry","connect.version":1,"connect.name":"io.debezium.data.geometry.Geometry"}`},
		{Column{Type: TypeGeometry, RawType: "POINT"}, AvroOptions{}, `{"type":"record","name":"Point","namespace":"io.debezium.data.geometry","fields":[{"name":"x","type":"double"},{"name":"y","type":"double"},{"name":"wkb","type":["null","bytes"],"default":null},{"name":"srid","type":["null","int"],"default":null}],"connect.doc":"Geometry (POINT)","connect.version":1,"connect.name":"io.debezium.data.geometry.Point"}`},
	}
	for _, tc := range cases {
		c := tc.col
		c.Name = "c"
		ac, err := avroColumn(&c, tc.opts)
		if err != nil {
			t.Fatalf("%s: %v", c.Type, err)
		}
		got := string(appendJSON(nil, newAvroDoc("ns").columnType(&ac)))
		if got != tc.want {
			t.Errorf("%s (unsigned=%v fsp=%d):\n got %s\nwant %s", c.Type, c.Unsigned, c.FSP, got, tc.want)
		}
	}
}

func TestAvroGeometryDefinedOnce(t *testing.T) {
	s, err := AvroSchemasFor("t.db.geo", typeMatrix(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(s.Value, `"name":"Geometry"`); n != 1 {
		t.Errorf("Geometry defined %d times, want once", n)
	}
	if !strings.Contains(s.Value, `{"name":"t_geom2","type":["null","io.debezium.data.geometry.Geometry"],"default":null}`) {
		t.Errorf("second geometry column does not reference the type by full name:\n%s", s.Value)
	}
}

func TestAvroNames(t *testing.T) {
	for in, want := range map[string]string{
		"tidemark.shop.customers":   "tidemark.shop.customers",
		"tide-mark.shop.cust-omers": "tide_mark.shop.cust_omers",
		"1shop.2table":              "_shop._table",
		"a..b":                      "a._.b",
		"prix€":                     "prix_",
		"x🙂":                        "x__",
		"":                          "_",
	} {
		if got := AvroFullName(in); got != want {
			t.Errorf("AvroFullName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := AvroFieldName("a.b"); got != "a_b" {
		t.Errorf("AvroFieldName(a.b) = %q", got)
	}
}

func TestAvroErrors(t *testing.T) {
	dup := &Table{Database: "d", Name: "t", Columns: []Column{
		{Name: "a-b", Type: TypeInt}, {Name: "a_b", Type: TypeInt},
	}}
	if _, err := AvroSchemasFor("t", dup, AvroOptions{}); err == nil || !strings.Contains(err.Error(), "a_b") {
		t.Errorf("colliding sanitised names: err = %v", err)
	}
	unknown := &Table{Database: "d", Name: "t", Columns: []Column{{Name: "x", RawType: "weird"}}}
	if _, err := AvroSchemasFor("t", unknown, AvroOptions{}); err == nil {
		t.Error("unknown type: no error")
	}
	badDec := &Table{Database: "d", Name: "t", Columns: []Column{{Name: "x", Type: TypeDecimal, Precision: 5, Scale: 6}}}
	if _, err := AvroSchemasFor("t", badDec, AvroOptions{}); err == nil {
		t.Error("decimal(5,6): no error")
	}
	shard := customers()
	if _, err := AvroSchemasFor("t", shard, AvroOptions{KeyShardField: "id"}); err == nil {
		t.Error("key shard field colliding with PK: no error")
	}
	if _, err := AvroSchemasFor("", customers(), AvroOptions{}); err == nil {
		t.Error("empty topic: no error")
	}
}

// benchOrders is bench/table.go's table as Debezium saw it on MariaDB: the
// JSON column is LONGTEXT there, hence TypeText.
func benchOrders() *Table {
	cols := []Column{
		{Name: "id", Type: TypeBigInt},
		{Name: "customer_id", Type: TypeInt},
		{Name: "merchant_id", Type: TypeInt},
		{Name: "status", Type: TypeSmallInt},
		{Name: "quantity", Type: TypeInt},
		{Name: "amount", Type: TypeDecimal, Precision: 12, Scale: 2},
		{Name: "tax", Type: TypeDecimal, Precision: 12, Scale: 2},
		{Name: "currency", Type: TypeChar, Length: 3},
		{Name: "sku", Type: TypeChar, Length: 32},
		{Name: "title", Type: TypeChar, Length: 120},
		{Name: "email", Type: TypeChar, Length: 80},
		{Name: "street", Type: TypeChar, Length: 80},
		{Name: "city", Type: TypeChar, Length: 40},
		{Name: "country", Type: TypeChar, Length: 2},
		{Name: "note", Type: TypeChar, Length: 200, Nullable: true},
		{Name: "created_at", Type: TypeDateTime, FSP: 6},
		{Name: "updated_at", Type: TypeDateTime, FSP: 6},
		{Name: "attrs", Type: TypeText, Nullable: true},
		{Name: "version", Type: TypeInt},
		{Name: "commit_us", Type: TypeBigInt},
	}
	return &Table{Database: "bench", Name: "orders", Columns: cols, PrimaryKey: []int{0}}
}

// TestAvroMatchesRealDebezium: for the bench table, the schemas are
// byte-for-byte the ones a real Debezium 3.1.3 registered (see the
// provenance in the testdata file).
func TestAvroMatchesRealDebezium(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "debezium_3.1.3_mariadb_orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	var real struct {
		KeySchema   string `json:"key_schema"`
		ValueSchema string `json:"value_schema"`
	}
	if err := json.Unmarshal(raw, &real); err != nil {
		t.Fatal(err)
	}
	got, err := AvroSchemasFor("benchdbzavro.bench.orders", benchOrders(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != real.KeySchema {
		t.Errorf("key schema differs from Debezium's:\n got %s\nwant %s", got.Key, real.KeySchema)
	}
	if got.Value != real.ValueSchema {
		t.Errorf("value schema differs from Debezium's:\n got %s\nwant %s", got.Value, real.ValueSchema)
	}
}
