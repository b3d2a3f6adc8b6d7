package integration

// The wire format against the real registry (Apicurio's Confluent API), read
// back by Tidemark's own Decoder and by fastavro, a consumer no one here
// wrote. Values are compared exactly.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"os"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// serdeMatrixTable has a column of every canonical type.
func serdeMatrixTable(db string) *schema.Table {
	return &schema.Table{
		Database: db, Name: "everything",
		Columns: []schema.Column{
			{Name: "id", Type: schema.TypeBigInt, Unsigned: true},
			{Name: "region", Type: schema.TypeTinyInt},
			{Name: "t_tiny_u", Type: schema.TypeTinyInt, Unsigned: true, Nullable: true},
			{Name: "t_small", Type: schema.TypeSmallInt, Nullable: true},
			{Name: "t_small_u", Type: schema.TypeSmallInt, Unsigned: true, Nullable: true},
			{Name: "t_medium", Type: schema.TypeMediumInt, Nullable: true},
			{Name: "t_int", Type: schema.TypeInt, Nullable: true},
			{Name: "t_int_u", Type: schema.TypeInt, Unsigned: true, Nullable: true},
			{Name: "t_big", Type: schema.TypeBigInt, Nullable: true},
			{Name: "t_big_u", Type: schema.TypeBigInt, Unsigned: true, Nullable: true},
			{Name: "t_dec", Type: schema.TypeDecimal, Precision: 10, Scale: 2},
			{Name: "t_dec_max", Type: schema.TypeDecimal, Precision: 65, Scale: 30, Nullable: true},
			{Name: "t_float", Type: schema.TypeFloat, Nullable: true},
			{Name: "t_double", Type: schema.TypeDouble, Nullable: true},
			{Name: "t_bool", Type: schema.TypeBit, Length: 1, Nullable: true},
			{Name: "t_bits", Type: schema.TypeBit, Length: 64, Nullable: true},
			{Name: "t_char", Type: schema.TypeChar, Length: 10},
			{Name: "t_text", Type: schema.TypeText, Nullable: true},
			{Name: "t_blob", Type: schema.TypeBlob, Nullable: true},
			{Name: "t_enum", Type: schema.TypeEnum, Values: []string{"small", "medium", "large"}, Nullable: true},
			{Name: "t_set", Type: schema.TypeSet, Values: []string{"a", "b", "c"}, Nullable: true},
			{Name: "t_json", Type: schema.TypeJSON, Nullable: true},
			{Name: "t_date", Type: schema.TypeDate, Nullable: true},
			{Name: "t_time", Type: schema.TypeTime, FSP: 6, Nullable: true},
			{Name: "t_datetime3", Type: schema.TypeDateTime, FSP: 3, Nullable: true},
			{Name: "t_datetime6", Type: schema.TypeDateTime, FSP: 6, Nullable: true},
			{Name: "t_timestamp", Type: schema.TypeTimestamp, FSP: 6, Nullable: true},
			{Name: "t_year", Type: schema.TypeYear, Nullable: true},
			{Name: "t_geom", Type: schema.TypeGeometry, RawType: "geometry"},
			{Name: "t_geom2", Type: schema.TypeGeometry, RawType: "linestring", Nullable: true},
			{Name: "t_point", Type: schema.TypeGeometry, RawType: "point", Nullable: true},
			{Name: "t_vector", Type: schema.TypeVector, Length: 3, Nullable: true},
		},
		PrimaryKey: []int{1, 0},
	}
}

// serdeDecimalFields and serdeFloat32Fields compare by value, not text:
// fastavro prints Python's str(Decimal) and float32s widened to double.
var (
	serdeDecimalFields = map[string]bool{"id": true, "t_big_u": true, "t_dec": true, "t_dec_max": true}
	serdeFloat32Fields = map[string]bool{"t_float": true, "t_vector": true}
)

func serdeWKBPoint(x, y float64) []byte {
	b := []byte{1, 1, 0, 0, 0}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(y))
}

func serdeRowMax() change.Row {
	srid := int32(4326)
	return change.Row{
		uint64(math.MaxUint64), int32(-128), int32(255), int32(math.MinInt16), int32(math.MaxUint16),
		int32(-8388608), int32(math.MinInt32), int64(math.MaxUint32), int64(math.MinInt64), uint64(1) << 63,
		"-12345678.90", "-99999999999999999999999999999999999.999999999999999999999999999999",
		float32(math.MaxFloat32), -math.MaxFloat64, true,
		[]byte{0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01},
		"café", "emoji 🙂👍🏽, NUL \x00, quote \" and \\", []byte{},
		"medium", "a,c", `{"k":[1,2,{"x":null}]}`,
		int32(-719162), int64(-3020399000000), int64(-62135596800000), int64(1700000000123456),
		"2038-01-19T03:14:07.999999Z", int32(2155),
		schema.Geometry{WKB: serdeWKBPoint(13.4, 52.5), SRID: &srid},
		schema.Geometry{WKB: []byte{1, 2, 0, 0, 0, 0, 0, 0, 0}},
		schema.Geometry{WKB: serdeWKBPoint(1.5, -2.25)},
		[]float32{1, -2.5, 3e-7},
	}
}

func serdeRowNulls() change.Row {
	row := make(change.Row, len(serdeMatrixTable("x").Columns))
	row[0], row[1], row[10], row[16] = uint64(0), int32(0), "0.00", ""
	row[28] = schema.Geometry{WKB: []byte{}}
	return row
}

func serdeEvent(t *schema.Table, op change.Op, before, after change.Row) *change.Event {
	return &change.Event{
		Op: op, Table: t, Before: before, After: after,
		Source: change.Source{Shard: "shard1", Connector: "mariadb", Database: t.Database, Table: t.Name,
			ServerID: 1, GTID: "1-1-42", File: "mariadb-bin.000001", Pos: 1234, Row: 0, Thread: 9, TsMs: 1_700_000_000_000},
	}
}

type serdeStack struct {
	reg *serde.RegistryClient
	url string
}

func newSerdeStack(t *testing.T) *serdeStack {
	t.Helper()
	s := stackEnv(t)
	if os.Getenv("TIDEMARK_TEST_PYTHON") == "" {
		unavailable(t, "TIDEMARK_TEST_PYTHON not set; run: eval \"$(stack/stack env)\"")
	}
	reg, err := serde.NewRegistryClient(serde.RegistryConfig{URL: s.RegistryURL, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &serdeStack{reg: reg, url: s.RegistryURL}
}

// fastavro decodes messages with testdata/fastavro_decode.py and returns
// one generic JSON value per message ({"key":…, "value":…}).
func (st *serdeStack) fastavro(t *testing.T, msgs []serde.Message) []map[string]any {
	t.Helper()
	var in bytes.Buffer
	for _, m := range msgs {
		line := map[string]any{"key": nil, "value": nil}
		if m.Key != nil {
			line["key"] = base64.StdEncoding.EncodeToString(m.Key)
		}
		if m.Value != nil {
			line["value"] = base64.StdEncoding.EncodeToString(m.Value)
		}
		b, _ := json.Marshal(line)
		in.Write(append(b, '\n'))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, os.Getenv("TIDEMARK_TEST_PYTHON"), "testdata/fastavro_decode.py", st.url)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fastavro: %v\n%s", err, stderr.String())
	}
	var res []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	for dec.More() {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("fastavro output: %v\n%s", err, out)
		}
		res = append(res, v)
	}
	if len(res) != len(msgs) {
		t.Fatalf("fastavro decoded %d records, want %d", len(res), len(msgs))
	}
	return res
}

// ours decodes messages with serde.Decoder and returns Record.JSON as
// generic JSON, schema ids dropped, plus the records.
func (st *serdeStack) ours(t *testing.T, msgs []serde.Message) ([]map[string]any, []*serde.Record) {
	t.Helper()
	dec := serde.NewDecoder(st.reg, serde.DecoderOptions{})
	var out []map[string]any
	var recs []*serde.Record
	for i, m := range msgs {
		rec, err := dec.Decode(context.Background(), m.Key, m.Value)
		if err != nil {
			t.Fatalf("message %d: Decode: %v", i, err)
		}
		j, err := rec.JSON()
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(j))
		d.UseNumber()
		var v map[string]any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("Record.JSON is not JSON: %v\n%s", err, j)
		}
		delete(v, "key_schema_id")
		delete(v, "value_schema_id")
		out = append(out, v)
		recs = append(recs, rec)
	}
	return out, recs
}

// serdeSame compares two decoded JSON values exactly, except decimal fields
// (by value) and float32 fields (at float32 precision).
func serdeSame(path, field string, a, b any) error {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return fmt.Errorf("%s: %v vs %v", path, a, b)
		}
		for k := range x {
			if err := serdeSame(path+"."+k, k, x[k], y[k]); err != nil {
				return err
			}
		}
		return nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return fmt.Errorf("%s: %v vs %v", path, a, b)
		}
		for i := range x {
			if err := serdeSame(fmt.Sprintf("%s[%d]", path, i), field, x[i], y[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if serdeDecimalFields[field] && a != nil && b != nil {
		ra, ok1 := new(big.Rat).SetString(fmt.Sprint(a))
		rb, ok2 := new(big.Rat).SetString(fmt.Sprint(b))
		if !ok1 || !ok2 || ra.Cmp(rb) != 0 {
			return fmt.Errorf("%s: decimal %v vs %v", path, a, b)
		}
		return nil
	}
	if na, ok := a.(json.Number); ok {
		nb, ok := b.(json.Number)
		if !ok {
			return fmt.Errorf("%s: %v vs %v", path, a, b)
		}
		if na == nb {
			return nil
		}
		fa, err1 := na.Float64()
		fb, err2 := nb.Float64()
		if err1 == nil && err2 == nil && (fa == fb || serdeFloat32Fields[field] && float32(fa) == float32(fb)) &&
			strings.ContainsAny(string(na)+string(nb), ".eE") {
			return nil
		}
		return fmt.Errorf("%s: number %s vs %s", path, na, nb)
	}
	if a != b {
		return fmt.Errorf("%s: %#v vs %#v", path, a, b)
	}
	return nil
}

func serdeCompare(t *testing.T, st *serdeStack, msgs []serde.Message) []*serde.Record {
	t.Helper()
	fa := st.fastavro(t, msgs)
	ours, recs := st.ours(t, msgs)
	for i := range msgs {
		if err := serdeSame(fmt.Sprintf("message %d", i), "", ours[i], fa[i]); err != nil {
			t.Errorf("Tidemark's decoder and fastavro disagree: %v", err)
		}
	}
	return recs
}

func serdeEncode(t *testing.T, enc *serde.Encoder, topic string, evs ...*change.Event) []serde.Message {
	t.Helper()
	var msgs []serde.Message
	for _, ev := range evs {
		var err error
		if msgs, err = enc.Messages(context.Background(), msgs, topic, ev, time.Unix(1_700_000_123, 456_789_000)); err != nil {
			t.Fatalf("Messages: %v", err)
		}
	}
	return msgs
}

// TestSerdeTypeMatrix: every canonical type with edge values and NULLs,
// registered in Apicurio, decoded by our Decoder and by fastavro, equal
// field for field, and equal to the values we put in.
func TestSerdeTypeMatrix(t *testing.T) {
	st := newSerdeStack(t)
	db := uniqueName("serde")
	tbl := serdeMatrixTable(db)
	topic := "tidemark." + db + ".everything"
	for _, opts := range []serde.Options{{Version: "tidemark-itest"}, {Version: "tidemark-itest", BigIntUnsignedLong: true}} {
		enc, err := serde.NewEncoder(st.reg, opts)
		if err != nil {
			t.Fatal(err)
		}
		tp := topic
		if opts.BigIntUnsignedLong {
			tp += "_long" // a different key schema: its own subjects
		}
		msgs := serdeEncode(t, enc, tp,
			serdeEvent(tbl, change.OpCreate, nil, serdeRowMax()),
			serdeEvent(tbl, change.OpRead, nil, serdeRowNulls()),
		)
		recs := serdeCompare(t, st, msgs)

		// And the values are the ones we encoded.
		after := recs[0].After
		wantID := "18446744073709551615"
		if opts.BigIntUnsignedLong {
			wantID = "-1" // Debezium's long mode wraps
			if after["id"] != int64(-1) {
				t.Errorf("long mode id = %#v", after["id"])
			}
		} else if d, ok := after["id"].(serde.Decimal); !ok || d.String() != wantID {
			t.Errorf("id = %#v, want %s", after["id"], wantID)
		}
		checks := map[string]any{
			"region": int32(-128), "t_tiny_u": int32(255), "t_int": int32(math.MinInt32), "t_int_u": int64(math.MaxUint32),
			"t_big": int64(math.MinInt64), "t_float": float32(math.MaxFloat32), "t_double": -math.MaxFloat64,
			"t_bool": true, "t_char": "café", "t_text": "emoji 🙂👍🏽, NUL \x00, quote \" and \\", "t_enum": "medium",
			"t_set": "a,c", "t_date": int32(-719162), "t_time": int64(-3020399000000),
			"t_datetime3": int64(-62135596800000), "t_timestamp": "2038-01-19T03:14:07.999999Z", "t_year": int32(2155),
		}
		for k, want := range checks {
			if after[k] != want {
				t.Errorf("%s = %#v, want %#v", k, after[k], want)
			}
		}
		if d := after["t_dec_max"].(serde.Decimal).String(); d != "-99999999999999999999999999999999999.999999999999999999999999999999" {
			t.Errorf("t_dec_max = %s", d)
		}
		if b := after["t_bits"].([]byte); !bytes.Equal(b, []byte{0xEF, 0xCD, 0xAB, 0x89, 0x67, 0x45, 0x23, 0x01}) {
			t.Errorf("t_bits = %x", b)
		}
		if b, ok := after["t_blob"].([]byte); !ok || len(b) != 0 {
			t.Errorf("t_blob = %#v, want empty bytes", after["t_blob"])
		}
		pt := after["t_point"].(map[string]any)
		if pt["x"] != 1.5 || pt["y"] != -2.25 || pt["srid"] != nil {
			t.Errorf("t_point = %v", pt)
		}
		if g := after["t_geom"].(map[string]any); g["srid"] != int32(4326) {
			t.Errorf("t_geom = %v", g)
		}
		nulls := recs[1].After
		for _, c := range tbl.Columns {
			if c.Nullable && nulls[c.Name] != nil {
				t.Errorf("nulls row: %s = %#v", c.Name, nulls[c.Name])
			}
		}
		if recs[1].Op != "r" || recs[1].Source["snapshot"] != "false" || recs[0].Source["gtid"] != "1-1-42" {
			t.Errorf("op %s snapshot %v gtid %v", recs[1].Op, recs[1].Source["snapshot"], recs[0].Source["gtid"])
		}
	}
}

// TestSerdeSchemaEvolution: an added column registers a second version
// with a new id; records of both versions stay decodable; a breaking
// change under a BACKWARD rule is the terminal ErrIncompatibleSchema.
func TestSerdeSchemaEvolution(t *testing.T) {
	st := newSerdeStack(t)
	db := uniqueName("serde")
	topic := "tidemark." + db + ".customers"
	v1 := &schema.Table{Database: db, Name: "customers", Columns: []schema.Column{
		{Name: "id", Type: schema.TypeInt},
		{Name: "email", Type: schema.TypeChar, Nullable: true},
	}, PrimaryKey: []int{0}}
	v2 := &schema.Table{Database: db, Name: "customers", Columns: append(append([]schema.Column(nil), v1.Columns...),
		schema.Column{Name: "loyalty", Type: schema.TypeDecimal, Precision: 8, Scale: 2, Nullable: true}), PrimaryKey: []int{0}}

	enc, err := serde.NewEncoder(st.reg, serde.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m1 := serdeEncode(t, enc, topic, serdeEvent(v1, change.OpCreate, nil, change.Row{int32(1), "a@x"}))
	m2 := serdeEncode(t, enc, topic, serdeEvent(v2, change.OpCreate, nil, change.Row{int32(2), "b@x", "12.50"}))
	id := func(b []byte) uint32 { return binary.BigEndian.Uint32(b[1:5]) }
	if id(m1[0].Value) == id(m2[0].Value) {
		t.Fatalf("added column kept value schema id %d", id(m1[0].Value))
	}
	if id(m1[0].Key) != id(m2[0].Key) {
		t.Errorf("key schema id changed: %d → %d", id(m1[0].Key), id(m2[0].Key))
	}
	recs := serdeCompare(t, st, append(m1, m2...))
	if _, has := recs[0].After["loyalty"]; has || recs[1].After["loyalty"].(serde.Decimal).String() != "12.50" {
		t.Errorf("v1 after %v, v2 after %v", recs[0].After, recs[1].After)
	}
	var versions []int
	serdeGetJSON(t, st.url+"/subjects/"+topic+"-value/versions", &versions)
	if len(versions) != 2 {
		t.Errorf("value subject versions %v, want 2", versions)
	}
	// A new encoder (another shard, or a restart) with a new table pointer
	// of the same shape reuses the registered version.
	enc2, _ := serde.NewEncoder(st.reg, serde.Options{})
	v2b := *v2
	m3 := serdeEncode(t, enc2, topic, serdeEvent(&v2b, change.OpCreate, nil, change.Row{int32(3), nil, nil}))
	if id(m3[0].Value) != id(m2[0].Value) {
		t.Errorf("same shape registered again: id %d, want %d", id(m3[0].Value), id(m2[0].Value))
	}

	// BACKWARD: a NOT NULL column without default cannot read old records.
	req, _ := http.NewRequest(http.MethodPut, st.url+"/config/"+topic+"-value", strings.NewReader(`{"compatibility":"BACKWARD"}`))
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set compatibility: %v %v", err, resp)
	}
	resp.Body.Close()
	v3 := &schema.Table{Database: db, Name: "customers", Columns: append(append([]schema.Column(nil), v2.Columns...),
		schema.Column{Name: "tier", Type: schema.TypeInt}), PrimaryKey: []int{0}}
	_, err = enc.Messages(context.Background(), nil, topic, serdeEvent(v3, change.OpCreate, nil, change.Row{int32(4), nil, nil, int32(1)}), time.Now())
	var re *serde.RegistryError
	if !errors.Is(err, serde.ErrIncompatibleSchema) || !errors.As(err, &re) || re.StatusCode != 409 || daemon.Retryable(err) {
		t.Errorf("breaking change: err %v (retryable %v), want terminal ErrIncompatibleSchema", err, daemon.Retryable(err))
	}
	if err != nil && !strings.Contains(err.Error(), topic) {
		t.Errorf("error does not name the topic: %v", err)
	}
}

// TestSerdeDeleteAndKeyChange: a delete is envelope + tombstone; a primary
// key change is d + tombstone + c with Debezium's headers.
func TestSerdeDeleteAndKeyChange(t *testing.T) {
	st := newSerdeStack(t)
	db := uniqueName("serde")
	tbl := &schema.Table{Database: db, Name: "accounts", Columns: []schema.Column{
		{Name: "id", Type: schema.TypeBigInt, Unsigned: true},
		{Name: "name", Type: schema.TypeChar},
		{Name: "balance", Type: schema.TypeDecimal, Precision: 12, Scale: 2},
	}, PrimaryKey: []int{0}}
	topic := "tidemark." + db + ".accounts"
	enc, err := serde.NewEncoder(st.reg, serde.Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := change.Row{uint64(7), "ada", "-1.50"}
	moved := change.Row{uint64(8), "ada", "-1.50"}

	del := serdeEncode(t, enc, topic, serdeEvent(tbl, change.OpDelete, row, nil))
	if len(del) != 2 || del[1].Value != nil || !bytes.Equal(del[0].Key, del[1].Key) {
		t.Fatalf("delete: %d messages %+v", len(del), del)
	}
	recs := serdeCompare(t, st, del)
	if recs[0].Op != "d" || recs[0].After != nil || recs[0].Before["name"] != "ada" || !recs[1].Tombstone {
		t.Errorf("delete records: %+v %+v", recs[0], recs[1])
	}

	kc := serdeEncode(t, enc, topic, serdeEvent(tbl, change.OpUpdate, row, moved))
	if len(kc) != 3 {
		t.Fatalf("key change: %d messages, want 3", len(kc))
	}
	recs = serdeCompare(t, st, kc)
	if recs[0].Op != "d" || !recs[1].Tombstone || recs[2].Op != "c" {
		t.Errorf("key change ops: %s, tombstone %v, %s", recs[0].Op, recs[1].Tombstone, recs[2].Op)
	}
	if recs[0].Key["id"].(serde.Decimal).String() != "7" || recs[2].Key["id"].(serde.Decimal).String() != "8" {
		t.Errorf("keys %v → %v", recs[0].Key, recs[2].Key)
	}
	// Each header is the other key in Kafka Connect's string form of a
	// Struct, as Debezium writes it (TestDebeziumDifferential compares with
	// a real Debezium): the new key on the delete and its tombstone, the old
	// one on the create.
	want := []struct{ key, value string }{
		{serde.HeaderNewKey, `{"id":8}`}, {serde.HeaderNewKey, `{"id":8}`}, {serde.HeaderOldKey, `{"id":7}`},
	}
	for i, m := range kc {
		if len(m.Headers) != 1 || m.Headers[0].Key != want[i].key || string(m.Headers[0].Value) != want[i].value {
			t.Errorf("message %d headers %+v, want %s=%s", i, m.Headers, want[i].key, want[i].value)
		}
	}
}

func serdeGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
