package serde

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

func customersTable() *schema.Table {
	return &schema.Table{
		Database: "inventory", Name: "customers",
		Columns: []schema.Column{
			{Name: "id", Type: schema.TypeInt},
			{Name: "first_name", Type: schema.TypeChar},
			{Name: "email", Type: schema.TypeChar, Nullable: true},
			{Name: "balance", Type: schema.TypeDecimal, Precision: 10, Scale: 3, Nullable: true},
			{Name: "avatar", Type: schema.TypeBlob, Nullable: true},
			{Name: "score", Type: schema.TypeDouble, Nullable: true},
		},
		PrimaryKey: []int{0},
	}
}

// TestRecordJSON pins the `tidemark tail` form: schema field order,
// decimals as exact strings, bytes base64.
func TestRecordJSON(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{Version: "v"})
	ev := &change.Event{
		Op: change.OpUpdate, Table: customersTable(),
		Before: change.Row{int32(1001), "Sally", nil, "-0.500", []byte{0xde, 0xad}, math.Inf(1)},
		After:  change.Row{int32(1001), "Sally \"S\"", "s@x.org", "12.340", []byte{}, 0.1},
		Source: change.Source{Shard: "dbserver1", Database: "inventory", Table: "customers", ServerID: 1,
			File: "bin.000001", Pos: 4, Thread: -1, TsMs: 1000},
	}
	msgs := encode(t, enc, "dbserver1.inventory.customers", ev)
	rec, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), msgs[0].Key, msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":{"id":1001},"value":{` +
		`"before":{"id":1001,"first_name":"Sally","email":null,"balance":"-0.500","avatar":"3q0=","score":"Infinity"},` +
		`"after":{"id":1001,"first_name":"Sally \"S\"","email":"s@x.org","balance":"12.340","avatar":"","score":0.1},` +
		`"source":{"version":"v","connector":"mysql","name":"dbserver1","ts_ms":1000,"snapshot":"false","db":"inventory",` +
		`"sequence":null,"ts_us":1000000,"ts_ns":1000000000,"table":"customers","server_id":1,"gtid":null,` +
		`"file":"bin.000001","pos":4,"row":0,"thread":null,"query":null},` +
		`"transaction":null,"op":"u","ts_ms":1700000123456,"ts_us":1700000123456789,"ts_ns":1700000123456789000},` +
		`"key_schema_id":1,"value_schema_id":2}`
	if string(got) != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
	if rec.Op != "u" || rec.TsMs != testNow.UnixMilli() || rec.Source["name"] != "dbserver1" || rec.Before["first_name"] != "Sally" {
		t.Errorf("record fields: %+v", rec)
	}
	if d, ok := rec.After["balance"].(Decimal); !ok || d.String() != "12.340" {
		t.Errorf("balance = %#v", rec.After["balance"])
	}

	tomb, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), msgs[0].Key, nil)
	if err != nil || !tomb.Tombstone || tomb.Key["id"] != int32(1001) {
		t.Fatalf("tombstone: %v %+v", err, tomb)
	}
	if j, _ := tomb.JSON(); string(j) != `{"key":{"id":1001},"value":null,"key_schema_id":1}` {
		t.Errorf("tombstone JSON %s", j)
	}
}

func TestDecodeErrors(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{})
	msgs := encode(t, enc, "dbserver1.inventory.customers", &change.Event{
		Op: change.OpCreate, Table: customersTable(),
		After: change.Row{int32(1), "a", "b", "1.000", []byte{1}, 1.0}, Source: change.Source{Thread: -1},
	})
	dec := NewDecoder(reg, DecoderOptions{})
	ctx := context.Background()

	var fe *FramingError
	if _, err := dec.Decode(ctx, []byte("plain-key"), msgs[0].Value); !errors.Is(err, ErrNotFramed) || !errors.As(err, &fe) || fe.Magic != 'p' {
		t.Errorf("unframed key: %v", err)
	}
	if _, err := dec.Decode(ctx, nil, []byte{0, 0, 0}); !errors.Is(err, ErrNotFramed) {
		t.Errorf("short value: %v", err)
	}
	if _, err := dec.Decode(ctx, nil, []byte{0, 0, 0, 0x7f, 0}); !errors.Is(err, ErrSchemaNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	v := msgs[0].Value
	for cut := 5; cut < len(v); cut++ {
		if _, err := dec.Decode(ctx, nil, v[:cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("value truncated to %d bytes: %v", cut, err)
		}
	}
	if _, err := dec.Decode(ctx, nil, append(bytes.Clone(v), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}

	// NoCopy aliases bytes; the default copies.
	rec, _ := NewDecoder(reg, DecoderOptions{NoCopy: true}).Decode(ctx, msgs[0].Key, v)
	copied, _ := dec.Decode(ctx, msgs[0].Key, v)
	avatar := rec.After["avatar"].([]byte)
	avatar[0] = 9
	if copied.After["avatar"].([]byte)[0] != 1 {
		t.Error("default decoder aliases the input")
	}
}

// TestDecodeGeneric: the decoder reads Avro shapes Tidemark never writes
// (enums, maps, arrays, fixed, multi-branch unions, negative block counts)
// the way hamba does.
func TestDecodeGeneric(t *testing.T) {
	text := `{"type":"record","name":"R","namespace":"x","fields":[
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
		{"name":"m","type":{"type":"map","values":"long"}},
		{"name":"a","type":{"type":"array","items":["null","string","int"]}},
		{"name":"f","type":{"type":"fixed","name":"F","size":3}},
		{"name":"fd","type":{"type":"fixed","name":"FD","size":4,"logicalType":"decimal","precision":9,"scale":2}},
		{"name":"n","type":"null"},
		{"name":"self","type":["null","R"],"default":null}]}`
	s := avro.MustParse(text)
	val := map[string]any{
		"e": "B", "m": map[string]any{"k": int64(-5), "j": int64(7)},
		"a": []any{nil, map[string]any{"string": "s"}, map[string]any{"int": 3}},
		"f": [3]byte{1, 2, 3}, "fd": [4]byte{0xff, 0xff, 0xff, 0x85}, "n": nil,
		"self": map[string]any{"x.R": map[string]any{
			"e": "A", "m": map[string]any{}, "a": []any{}, "f": [3]byte{}, "fd": [4]byte{}, "n": nil, "self": nil,
		}},
	}
	body, err := avro.Marshal(s, val)
	if err != nil {
		t.Fatal(err)
	}
	reg := NewMemRegistry()
	id, _ := reg.Register(context.Background(), "x-value", text)
	rec, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), nil, append(AppendFrameHeader(nil, id), body...))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := rec.JSON()
	want := `{"key":null,"value":{"e":"B","m":{"j":7,"k":-5},"a":[null,"s",3],"f":"AQID","fd":"-1.23","n":null,` +
		`"self":{"e":"A","m":{},"a":[],"f":"AAAA","fd":"0.00","n":null,"self":null}},"value_schema_id":1}`
	if string(j) != want {
		t.Errorf("JSON:\n got %s\nwant %s", j, want)
	}

	// A hostile block count: huge, with few bytes behind it.
	hostile := append(AppendFrameHeader(nil, id), 0x00) // e = A
	hostile = appendLong(hostile, math.MaxInt64/2)      // map block count
	if _, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), nil, hostile); !errors.Is(err, ErrMalformed) {
		t.Errorf("hostile count: %v", err)
	}
}

func TestFrame(t *testing.T) {
	for _, id := range []int{1, 255, 256, 1 << 24, math.MaxInt32, math.MaxUint32} {
		b := AppendFrameHeader([]byte("x"), id)
		got, body, err := ParseFrame(append(b[1:], 7))
		if err != nil || got != id || !bytes.Equal(body, []byte{7}) {
			t.Errorf("id %d: got %d body %v err %v", id, got, body, err)
		}
	}
	if _, _, err := ParseFrame([]byte{1, 0, 0, 0, 1}); !errors.Is(err, ErrNotFramed) {
		t.Errorf("magic 1: %v", err)
	}
}
