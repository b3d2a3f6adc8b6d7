package serde

import (
	"bytes"
	"math"
	"testing"

	"github.com/hamba/avro/v2"
)

// Our primitives write exactly what hamba's Writer writes.
func TestPrimitivesMatchHamba(t *testing.T) {
	longs := []int64{0, 1, -1, 63, -64, 64, -65, 8191, 1 << 31, -1 << 31, math.MaxInt64, math.MinInt64}
	for _, v := range longs {
		w := avro.NewWriter(nil, 16)
		w.WriteLong(v)
		if got := appendLong(nil, v); !bytes.Equal(got, w.Buffer()) {
			t.Errorf("long %d: %x, hamba %x", v, got, w.Buffer())
		}
		r := avroReader{b: appendLong(nil, v)}
		if back := r.readLong(); back != v || r.err != nil {
			t.Errorf("readLong(%d) = %d, %v", v, back, r.err)
		}
	}
	for _, f := range []float32{0, -0, 1.5, math.MaxFloat32, float32(math.Inf(-1))} {
		w := avro.NewWriter(nil, 16)
		w.WriteFloat(f)
		if got := appendFloat(nil, f); !bytes.Equal(got, w.Buffer()) {
			t.Errorf("float %v", f)
		}
	}
	for _, f := range []float64{0, 1e-300, -math.MaxFloat64, math.NaN()} {
		w := avro.NewWriter(nil, 16)
		w.WriteDouble(f)
		if got := appendDouble(nil, f); !bytes.Equal(got, w.Buffer()) {
			t.Errorf("double %v", f)
		}
	}
	w := avro.NewWriter(nil, 16)
	w.WriteString("héllo")
	w.WriteBytes(nil)
	w.WriteBool(true)
	if got := appendBool(appendBytes(appendString(nil, "héllo"), nil), true); !bytes.Equal(got, w.Buffer()) {
		t.Errorf("string/bytes/bool: %x, hamba %x", got, w.Buffer())
	}
}

func TestReaderRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated varint": {0x80},
		"11-byte varint":   bytes.Repeat([]byte{0xff}, 11),
	} {
		r := avroReader{b: b}
		r.readLong()
		if r.err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	r := avroReader{b: appendLong(nil, 10)}
	if r.readBytes(); r.err == nil {
		t.Error("length beyond data: no error")
	}
	r = avroReader{b: appendLong(nil, -1)}
	if r.readBytes(); r.err == nil {
		t.Error("negative length: no error")
	}
	r = avroReader{b: appendLong(nil, math.MaxInt32+1)}
	if r.readInt(); r.err == nil {
		t.Error("int overflow: no error")
	}
	r = avroReader{b: []byte{2}}
	if r.readBool(); r.err == nil {
		t.Error("boolean 2: no error")
	}
}
