package serde

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

const matrixTopic = "tidemark.shop.everything"

func newTestEncoder(t testing.TB, opts Options) (*Encoder, *MemRegistry) {
	t.Helper()
	reg := NewMemRegistry()
	enc, err := NewEncoder(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return enc, reg
}

func encode(t testing.TB, enc *Encoder, topic string, ev *change.Event) []Message {
	t.Helper()
	msgs, err := enc.Messages(context.Background(), nil, topic, ev, testNow)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	return msgs
}

// TestEncodeTypeMatrixHamba decodes our bytes with hamba/avro's generic
// decoder (code we did not write) against the registered schema and
// compares every column with the canonical value.
func TestEncodeTypeMatrixHamba(t *testing.T) {
	for _, opts := range []Options{{}, {BigIntUnsignedLong: true}} {
		for name, row := range map[string]change.Row{"max": matrixRowMax(), "nulls": matrixRowNulls()} {
			enc, reg := newTestEncoder(t, opts)
			ev := matrixEvent(change.OpCreate, nil, row)
			msgs := encode(t, enc, matrixTopic, ev)
			if len(msgs) != 1 {
				t.Fatalf("%s: %d messages, want 1", name, len(msgs))
			}
			val, err := hambaDecode(reg, msgs[0].Value)
			if err != nil {
				t.Fatalf("%s: hamba decode value: %v", name, err)
			}
			if val["before"] != nil || val["op"] != "c" {
				t.Errorf("%s: before=%v op=%v", name, val["before"], val["op"])
			}
			after := val["after"].(map[string]any)
			tbl := matrixTable()
			for i := range tbl.Columns {
				c := &tbl.Columns[i]
				got, want := normalize(after[c.Name]), expected(c, row[i], opts)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s long=%v column %s: got %#v, want %#v", name, opts.BigIntUnsignedLong, c.Name, got, want)
				}
			}
			key, err := hambaDecode(reg, msgs[0].Key)
			if err != nil {
				t.Fatalf("%s: hamba decode key: %v", name, err)
			}
			wantKey := map[string]any{"region": expected(&tbl.Columns[1], row[1], opts), "id": expected(&tbl.Columns[0], row[0], opts)}
			if !reflect.DeepEqual(normalize(key), wantKey) {
				t.Errorf("%s: key %v, want %v", name, normalize(key), wantKey)
			}
			// Our own decoder agrees, and consumes every byte.
			rec, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), msgs[0].Key, msgs[0].Value)
			if err != nil {
				t.Fatalf("%s: Decode: %v", name, err)
			}
			if !reflect.DeepEqual(normalize(rec.After), normalize(after)) {
				t.Errorf("%s: our decoder's after differs from hamba's:\n ours  %v\n hamba %v", name, normalize(rec.After), normalize(after))
			}
		}
	}
}

func TestEncodeSourceAndEnvelope(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{Version: "tidemark-test"})
	ev := matrixEvent(change.OpRead, nil, matrixRowMax())
	ev.Source.Snapshot = "incremental"
	ev.Source.GTID = ""
	ev.Source.Thread = -1
	msgs := encode(t, enc, matrixTopic, ev)
	val, err := hambaDecode(reg, msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version": "tidemark-test", "connector": "mariadb", "name": "shard1",
		"ts_ms": int64(1_700_000_000_000), "snapshot": "incremental", "db": "shop",
		"sequence": nil, "ts_us": int64(1_700_000_000_000_000), "ts_ns": int64(1_700_000_000_000_000_000),
		"table": "everything", "server_id": int64(11), "gtid": nil, "file": "mariadb-bin.000003",
		"pos": int64(4711), "row": int64(2), "thread": nil, "query": nil,
	}
	if got := normalize(val["source"]); !reflect.DeepEqual(got, want) {
		t.Errorf("source:\n got %v\nwant %v", got, want)
	}
	if val["op"] != "r" || val["transaction"] != nil {
		t.Errorf("op %v transaction %v", val["op"], val["transaction"])
	}
	if val["ts_ms"] != testNow.UnixMilli() || val["ts_us"] != testNow.UnixMicro() || val["ts_ns"] != testNow.UnixNano() {
		t.Errorf("envelope ts = %v %v %v", val["ts_ms"], val["ts_us"], val["ts_ns"])
	}

	// Streaming: snapshot takes the default "false", gtid and thread set.
	ev = matrixEvent(change.OpCreate, nil, matrixRowMax())
	val, err = hambaDecode(reg, encode(t, enc, matrixTopic, ev)[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	src := val["source"].(map[string]any)
	if src["snapshot"] != "false" || src["gtid"] != "1-11-42" || src["thread"] != int64(77) {
		t.Errorf("streaming source: snapshot %v gtid %v thread %v", src["snapshot"], src["gtid"], src["thread"])
	}
}

func TestEncodeOps(t *testing.T) {
	before, after := matrixRowMax(), matrixRowMax()
	after[5] = int32(7) // a non-key column changes

	t.Run("update same key", func(t *testing.T) {
		enc, reg := newTestEncoder(t, Options{})
		msgs := encode(t, enc, matrixTopic, matrixEvent(change.OpUpdate, before, after))
		if len(msgs) != 1 || msgs[0].Headers != nil {
			t.Fatalf("messages %+v", msgs)
		}
		val, _ := hambaDecode(reg, msgs[0].Value)
		if val["op"] != "u" || val["before"].(map[string]any)["t_medium"] != -8388608 || val["after"].(map[string]any)["t_medium"] != 7 {
			t.Errorf("update envelope: %v", val)
		}
	})

	t.Run("delete", func(t *testing.T) {
		enc, reg := newTestEncoder(t, Options{})
		msgs := encode(t, enc, matrixTopic, matrixEvent(change.OpDelete, before, nil))
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want delete + tombstone", len(msgs))
		}
		val, _ := hambaDecode(reg, msgs[0].Value)
		if val["op"] != "d" || val["after"] != nil || val["before"] == nil {
			t.Errorf("delete envelope: op %v after %v", val["op"], val["after"])
		}
		if msgs[1].Value != nil || !bytes.Equal(msgs[1].Key, msgs[0].Key) {
			t.Errorf("tombstone: %+v", msgs[1])
		}
		enc2, _ := newTestEncoder(t, Options{NoTombstones: true})
		if n := len(encode(t, enc2, matrixTopic, matrixEvent(change.OpDelete, before, nil))); n != 1 {
			t.Errorf("NoTombstones: %d messages", n)
		}
	})

	t.Run("key change", func(t *testing.T) {
		moved := matrixRowMax()
		moved[0] = uint64(42) // id: part of the primary key
		enc, reg := newTestEncoder(t, Options{})
		msgs := encode(t, enc, matrixTopic, matrixEvent(change.OpUpdate, before, moved))
		if len(msgs) != 3 {
			t.Fatalf("%d messages, want d + tombstone + c", len(msgs))
		}
		d, tomb, c := msgs[0], msgs[1], msgs[2]
		oldKey, _ := hambaDecode(reg, d.Key)
		newKey, _ := hambaDecode(reg, c.Key)
		if normalize(oldKey["id"]) != "rat:18446744073709551615" || normalize(newKey["id"]) != "rat:42" {
			t.Errorf("keys: old %v new %v", oldKey, newKey)
		}
		dv, _ := hambaDecode(reg, d.Value)
		cv, _ := hambaDecode(reg, c.Value)
		if dv["op"] != "d" || cv["op"] != "c" || cv["before"] != nil || dv["after"] != nil {
			t.Errorf("ops: %v %v", dv["op"], cv["op"])
		}
		if tomb.Value != nil || !bytes.Equal(tomb.Key, d.Key) {
			t.Errorf("tombstone %+v", tomb)
		}
		hdr := func(m Message) Header {
			if len(m.Headers) != 1 {
				t.Fatalf("headers %+v", m.Headers)
			}
			return m.Headers[0]
		}
		// Kafka Connect's string form of the key struct, as Debezium's
		// records carry it (integration/debezium_diff_test.go compares).
		newText, oldText := `{"region":-128,"id":42}`, `{"region":-128,"id":18446744073709551615}`
		if h := hdr(d); h.Key != HeaderNewKey || string(h.Value) != newText {
			t.Errorf("delete header %s=%s, want %s=%s", h.Key, h.Value, HeaderNewKey, newText)
		}
		if h := hdr(tomb); h.Key != HeaderNewKey || string(h.Value) != newText {
			t.Errorf("tombstone header %s=%s", h.Key, h.Value)
		}
		if h := hdr(c); h.Key != HeaderOldKey || string(h.Value) != oldText {
			t.Errorf("create header %s=%s, want %s=%s", h.Key, h.Value, HeaderOldKey, oldText)
		}
		enc2, _ := newTestEncoder(t, Options{NoTombstones: true})
		if n := len(encode(t, enc2, matrixTopic, matrixEvent(change.OpUpdate, before, moved))); n != 2 {
			t.Errorf("NoTombstones key change: %d messages, want 2", n)
		}
	})

	t.Run("checkpoint", func(t *testing.T) {
		enc, reg := newTestEncoder(t, Options{})
		msgs, err := enc.Messages(context.Background(), []Message{{}}, matrixTopic, &change.Event{Op: change.OpCheckpoint}, testNow)
		if err != nil || len(msgs) != 1 || reg.RegisterCalls() != 0 {
			t.Errorf("checkpoint: %d messages, %d registrations, err %v", len(msgs), reg.RegisterCalls(), err)
		}
	})

	t.Run("no primary key", func(t *testing.T) {
		tbl := &schema.Table{Database: "shop", Name: "log", Columns: []schema.Column{{Name: "msg", Type: schema.TypeText, Nullable: true}}}
		enc, reg := newTestEncoder(t, Options{})
		ev := &change.Event{Op: change.OpDelete, Table: tbl, Before: change.Row{"x"}, Source: change.Source{Shard: "s", Thread: -1}}
		msgs := encode(t, enc, "t.shop.log", ev)
		if len(msgs) != 2 || msgs[0].Key != nil || msgs[1].Key != nil || msgs[1].Value != nil {
			t.Fatalf("messages %+v", msgs)
		}
		if got := reg.Versions("t.shop.log-key"); len(got) != 0 {
			t.Errorf("key subject registered for a table without PK: %v", got)
		}
		ev = &change.Event{Op: change.OpUpdate, Table: tbl, Before: change.Row{"x"}, After: change.Row{"y"}}
		if msgs := encode(t, enc, "t.shop.log", ev); len(msgs) != 1 || msgs[0].Key != nil {
			t.Errorf("update without PK: %+v", msgs)
		}
	})
}

func TestEncodeSchemaCaching(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{})
	ev := matrixEvent(change.OpCreate, nil, matrixRowMax())
	m1 := encode(t, enc, matrixTopic, ev)
	calls := reg.RegisterCalls()
	if calls != 2 {
		t.Fatalf("first event: %d registrations, want key + value", calls)
	}
	encode(t, enc, matrixTopic, ev)
	ev2 := matrixEvent(change.OpCreate, nil, matrixRowMax()) // new pointer, same shape
	m2 := encode(t, enc, matrixTopic, ev2)
	if reg.RegisterCalls() != calls {
		t.Errorf("same shape re-registered: %d calls", reg.RegisterCalls())
	}
	if !bytes.Equal(m1[0].Value[:5], m2[0].Value[:5]) {
		t.Error("same shape, different value schema id")
	}
	// Another topic registers its own subjects.
	encode(t, enc, "other.topic", ev)
	if reg.RegisterCalls() != calls+2 {
		t.Errorf("second topic: %d calls", reg.RegisterCalls())
	}
	// ALTER TABLE ADD COLUMN: new version, new id; old shape still works.
	altered := matrixTable()
	altered.Columns = append(altered.Columns, schema.Column{Name: "added", Type: schema.TypeInt, Nullable: true})
	ev3 := matrixEvent(change.OpCreate, nil, append(matrixRowMax(), int32(5)))
	ev3.Table = altered
	m3 := encode(t, enc, matrixTopic, ev3)
	if bytes.Equal(m3[0].Value[:5], m1[0].Value[:5]) {
		t.Error("altered table kept the old value schema id")
	}
	if !bytes.Equal(m3[0].Key[:5], m1[0].Key[:5]) {
		t.Error("key schema id changed though the key did not")
	}
	if v := reg.Versions(matrixTopic + "-value"); len(v) != 2 {
		t.Errorf("value subject versions %v, want 2", v)
	}
	rec, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), m3[0].Key, m3[0].Value)
	if err != nil || rec.After["added"] != int32(5) {
		t.Errorf("decode altered: %v %v", err, rec)
	}
}

func TestEncodeBadValues(t *testing.T) {
	cases := []struct {
		col    int
		value  any
		reason string
	}{
		{1, nil, "NULL in a NOT NULL column"},
		{1, "x", "want int32"},
		{1, int64(math.MaxInt32 + 1), "want int32"},
		{11, "12.345", "more fraction digits"},
		{11, "1e5", "not a decimal"},
		{11, float64(1.5), "want decimal text"},
		{0, int64(-1), "want uint64"},
		{14, float64(0.1), "not representable"},
		{33, "POINT(1 2)", "want schema.Geometry"},
		{35, schema.Geometry{WKB: []byte{1, 2}}, "21-byte"},
		{36, []float64{1}, "want []float32"},
	}
	for _, tc := range cases {
		enc, _ := newTestEncoder(t, Options{})
		row := matrixRowMax()
		row[tc.col] = tc.value
		ev := matrixEvent(change.OpCreate, nil, row)
		dst := []Message{{Key: []byte("keep")}}
		out, err := enc.Messages(context.Background(), dst, matrixTopic, ev, testNow)
		var ve *ValueError
		if !errors.As(err, &ve) || !errors.Is(err, ErrBadValue) {
			t.Errorf("column %d value %#v: err %v, want a ValueError", tc.col, tc.value, err)
			continue
		}
		col := matrixTable().Columns[tc.col].Name
		if ve.Column != col || ve.Table != "shop.everything" || ve.Shard != "shard1" || ve.Topic != matrixTopic ||
			!strings.Contains(err.Error(), tc.reason) {
			t.Errorf("column %s: %v", col, err)
		}
		if len(out) != 1 {
			t.Errorf("column %s: dst changed", col)
		}
	}
	enc, _ := newTestEncoder(t, Options{})
	short := matrixEvent(change.OpCreate, nil, change.Row{uint64(1)})
	if _, err := enc.Messages(context.Background(), nil, matrixTopic, short, testNow); !errors.Is(err, ErrBadValue) {
		t.Errorf("short row: %v", err)
	}
	noAfter := matrixEvent(change.OpCreate, nil, nil)
	if _, err := enc.Messages(context.Background(), nil, matrixTopic, noAfter, testNow); !errors.Is(err, ErrBadValue) {
		t.Errorf("create without after: %v", err)
	}
	noBefore := matrixEvent(change.OpUpdate, nil, matrixRowMax())
	if _, err := enc.Messages(context.Background(), nil, matrixTopic, noBefore, testNow); !errors.Is(err, ErrBadValue) {
		t.Errorf("update without before: %v", err)
	}
}

// TestEncodeLenientTypes: other Go integer and float types are accepted
// where exact, and give the same bytes as the canonical ones.
func TestEncodeLenientTypes(t *testing.T) {
	enc, _ := newTestEncoder(t, Options{})
	canon := encode(t, enc, matrixTopic, matrixEvent(change.OpCreate, nil, matrixRowMax()))
	row := matrixRowMax()
	row[1] = int8(-128)
	row[2] = uint8(255)
	row[7] = int(math.MinInt32)
	row[8] = uint32(math.MaxUint32)
	row[14] = float64(float32(math.MaxFloat32))
	row[16] = -math.MaxFloat64
	row[17] = []byte{1}
	row[19] = []byte("café")
	row[22] = ""
	lenient := encode(t, enc, matrixTopic, matrixEvent(change.OpCreate, nil, row))
	if !bytes.Equal(canon[0].Key, lenient[0].Key) || !bytes.Equal(canon[0].Value, lenient[0].Value) {
		t.Error("lenient types encode differently")
	}
}

func TestEncodeKeyShardField(t *testing.T) {
	tbl := &schema.Table{Database: "shop_7", Name: "customers", Columns: []schema.Column{{Name: "id", Type: schema.TypeInt}}, PrimaryKey: []int{0}}
	ev := &change.Event{Op: change.OpCreate, Table: tbl, After: change.Row{int32(1)}, Source: change.Source{Shard: "shard7", Database: "shop_7", Table: "customers", Thread: -1}}
	enc, reg := newTestEncoder(t, Options{KeyShardField: "__dbz__physicalTableIdentifier"})
	key, err := hambaDecode(reg, encode(t, enc, "tidemark.shop.customers", ev)[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"id": 1, "__dbz__physicalTableIdentifier": "shard7.shop_7.customers"}; !reflect.DeepEqual(key, want) {
		t.Errorf("key %v, want %v", key, want)
	}
	enc, reg = newTestEncoder(t, Options{KeyShardField: "shard", KeyShardValue: func(s *change.Source) string { return s.Shard }})
	key, _ = hambaDecode(reg, encode(t, enc, "tidemark.shop.customers", ev)[0].Key)
	if key["shard"] != "shard7" {
		t.Errorf("custom key shard value: %v", key)
	}
	if _, err := NewEncoder(reg, Options{KeyShardField: "bad-name"}); err == nil {
		t.Error("invalid key shard field name accepted")
	}
}

// TestEncodeLargeValue: a 20 MB text column round-trips (hamba's default
// 1 MiB limit would refuse it; our decoder has none beyond the data).
func TestEncodeLargeValue(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{})
	row := matrixRowMax()
	big := strings.Repeat("x🙂", 4<<20)
	row[20] = big
	msgs := encode(t, enc, matrixTopic, matrixEvent(change.OpCreate, nil, row))
	val, err := hambaDecode(reg, msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if val["after"].(map[string]any)["t_text"] != big {
		t.Error("hamba: large text differs")
	}
	rec, err := NewDecoder(reg, DecoderOptions{}).Decode(context.Background(), msgs[0].Key, msgs[0].Value)
	if err != nil || rec.After["t_text"] != big {
		t.Errorf("decoder: large text: %v", err)
	}
}

func TestEncodeConcurrent(t *testing.T) {
	enc, reg := newTestEncoder(t, Options{})
	want := encode(t, enc, matrixTopic, matrixEvent(change.OpCreate, nil, matrixRowMax()))
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				ev := matrixEvent(change.OpCreate, nil, matrixRowMax())
				got, err := enc.Messages(context.Background(), nil, matrixTopic, ev, testNow)
				if err == nil && !bytes.Equal(got[0].Value, want[0].Value) {
					err = errors.New("concurrent encode differs")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if reg.RegisterCalls() != 2 {
		t.Errorf("%d registrations", reg.RegisterCalls())
	}
}
