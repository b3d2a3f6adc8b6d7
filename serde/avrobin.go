package serde

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Avro binary primitives, append-style. The encoder writes straight into a
// byte slice: no io.Writer, no interface per value, no reflection. See the
// Avro specification, "Binary Encoding".

// appendLong writes a zig-zag varint (Avro int and long share it).
func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendFloat(b []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
}

func appendDouble(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendBytes(b []byte, v []byte) []byte {
	b = appendLong(b, int64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = appendLong(b, int64(len(v)))
	return append(b, v...)
}

// Union branch indexes are longs; these are the two the envelope uses.
const (
	unionFirst  = 0x00 // zig-zag 0
	unionSecond = 0x02 // zig-zag 1
)

// avroReader reads Avro binary primitives from a byte slice. Errors are
// sticky: after the first one every read returns zero values and err stays
// set, so decoding code checks once at the end of a record.
type avroReader struct {
	b   []byte
	err error
}

func (r *avroReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

func (r *avroReader) readLong() int64 {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(r.b) == 0 {
			r.fail("truncated varint")
			return 0
		}
		c := r.b[0]
		r.b = r.b[1:]
		u |= uint64(c&0x7F) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	r.fail("varint longer than 10 bytes")
	return 0
}

func (r *avroReader) readInt() int32 {
	v := r.readLong()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail("int out of range: %d", v)
		return 0
	}
	return int32(v)
}

func (r *avroReader) readBool() bool {
	if len(r.b) == 0 {
		r.fail("truncated boolean")
		return false
	}
	c := r.b[0]
	r.b = r.b[1:]
	if c > 1 {
		r.fail("boolean byte 0x%02x", c)
	}
	return c == 1
}

func (r *avroReader) readFixed(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *avroReader) readFloat() float32 {
	v := r.readFixed(4)
	if v == nil {
		return 0
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(v))
}

func (r *avroReader) readDouble() float64 {
	v := r.readFixed(8)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
}

// readBytes returns a view into the input (callers copy when they keep it).
// The length is bounded by the data itself, so a hostile length never
// allocates: records of tens of MB decode, garbage fails fast.
func (r *avroReader) readBytes() []byte {
	n := r.readLong()
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)) {
		r.fail("length %d beyond the %d bytes left", n, len(r.b))
		return nil
	}
	return r.readFixed(int(n))
}

func (r *avroReader) readString() string { return string(r.readBytes()) }
