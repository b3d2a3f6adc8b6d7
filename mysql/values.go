package mysql

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tidemark-cdc/tidemark/schema"
)

// This file converts go-mysql's decoded row values to the canonical values
// of schema/value.go. It is the hot path: one call per column per row image.
// It switches on a per-column kind compiled once per table shape, reuses
// go-mysql's boxed value whenever it already is the canonical one (no new
// allocation), and never uses fmt or reflection on success.
//
// What go-mysql hands over (BinlogSyncerConfig as set in binlog/reader.go:
// ParseTime, UseDecimal=false, RenderJSONAsMySQLText):
//
//	TINYINT..BIGINT   int8/uint8 .. int64/uint64 (signedness from the table map, may be absent)
//	YEAR              int (0 or 1901..2155)
//	DECIMAL           string, exactly `scale` fraction digits
//	FLOAT/DOUBLE      float32/float64
//	BIT               int64, the bits as a big-endian number
//	DATE, TIME        string "YYYY-MM-DD", "[-]HHH:MM:SS[.f]"
//	DATETIME          time.Time (UTC wall clock) or, before 1970 and for zero dates, a string
//	TIMESTAMP         time.Time (the instant), or a string for the zero timestamp
//	ENUM / SET        int64 index (1-based, 0 = '') / int64 bitmap
//	CHAR/VARCHAR      string (also BINARY/VARBINARY); trailing pad stripped
//	TEXT/BLOB/GEOMETRY []byte
//	JSON (MySQL)      string (JSON text), []byte{} for an empty document, *JsonDiff for partial updates

// ValueKind is how a column's values are converted.
type ValueKind uint8

const (
	KindInt32 ValueKind = iota + 1
	KindInt64
	KindUint64
	KindYear
	KindDecimal
	KindFloat
	KindDouble
	KindBool
	KindBits
	KindText
	KindBytes
	KindBinaryFixed
	KindEnum
	KindSet
	KindJSON
	KindDate
	KindTime
	KindDateTimeMillis
	KindDateTimeMicros
	KindTimestamp
	KindGeometry
	KindUUID
	KindInet4
	KindInet6
)

// Converter converts the values of one column. Its fields are compiled once
// per table shape by the stage that knows the column (the binlog reader from
// the table-map event); Convert is then called per value.
type Converter struct {
	Kind     ValueKind
	Name     string // column name, for errors
	Width    uint8  // integer width in bytes (1, 2, 3, 4, 8)
	Unsigned bool
	Nullable bool
	FSP      int
	Length   int // BINARY(n) length in bytes; BIT width in bytes
	Text     *TextDecoder
	Enum     []any    // boxed ENUM member names (UTF-8), index-1
	Set      []string // SET member names (UTF-8), bit order
	Zero     any      // value of a zero date in a NOT NULL column (the epoch)
	// BinaryJSON marks MySQL's native JSON type (go-mysql renders its binary
	// form as text); MariaDB's JSON is LONGTEXT and arrives as plain text.
	BinaryJSON bool
}

// SizeNull is the size estimate of a NULL value held in an event.
const SizeNull = sizeIface

// Size estimates (bytes) of a value held in an event: the interface plus
// the boxed payload. Strings and slices add their length.
const (
	sizeIface   = 16
	sizeScalar  = sizeIface + 8
	sizeString  = sizeIface + 16
	sizeSlice   = sizeIface + 24
	sizeGeomHdr = sizeIface + 24 + 8 + 8
)

// Convert returns the canonical value of v (never nil: callers handle SQL
// NULL) and an estimate of its size in bytes.
func (c *Converter) Convert(v any) (any, int, error) {
	switch c.Kind {
	case KindInt32, KindInt64, KindUint64:
		return c.integer(v)
	case KindYear:
		n, ok := v.(int)
		if !ok {
			return c.unexpected(v)
		}
		if n >= 0 && n < len(boxedYears) {
			return boxedYears[n], sizeScalar, nil
		}
		return int32(n), sizeScalar, nil
	case KindDecimal:
		s, ok := v.(string)
		if !ok {
			return c.unexpected(v)
		}
		if len(s) > 1 && s[0] == '-' && strings.Trim(s[1:], "0.") == "" {
			return s[1:], sizeString + len(s) - 1, nil // no negative zero
		}
		return v, sizeString + len(s), nil
	case KindFloat:
		if _, ok := v.(float32); ok {
			return v, sizeScalar, nil
		}
		return c.unexpected(v)
	case KindDouble:
		if _, ok := v.(float64); ok {
			return v, sizeScalar, nil
		}
		return c.unexpected(v)
	case KindBool:
		n, ok := v.(int64)
		if !ok {
			return c.unexpected(v)
		}
		return n != 0, sizeScalar, nil
	case KindBits:
		n, ok := v.(int64)
		if !ok {
			return c.unexpected(v)
		}
		// Debezium's io.debezium.data.Bits: little-endian, (n+7)/8 bytes.
		out := make([]byte, c.Length)
		for i := range out {
			out[i] = byte(uint64(n) >> (8 * i))
		}
		return out, sizeSlice + len(out), nil
	case KindText, KindJSON:
		return c.textValue(v)
	case KindBytes:
		switch b := v.(type) {
		case []byte:
			return v, sizeSlice + len(b), nil
		case string:
			return []byte(b), sizeSlice + len(b), nil
		}
		return c.unexpected(v)
	case KindBinaryFixed:
		s, ok := v.(string)
		if !ok {
			return c.unexpected(v)
		}
		// MySQL right-pads BINARY(n) with zero bytes and the binlog strips
		// them again; SELECT returns all n bytes, so restore them.
		out := make([]byte, max(c.Length, len(s)))
		copy(out, s)
		return out, sizeSlice + len(out), nil
	case KindEnum:
		n, ok := v.(int64)
		if !ok {
			return c.unexpected(v)
		}
		if n == 0 {
			return "", sizeString, nil // the '' error value of a non-strict insert
		}
		if n < 0 || int(n) > len(c.Enum) {
			return nil, 0, undecodable(fmt.Errorf("column %s: ENUM index %d out of range (%d members)", c.Name, n, len(c.Enum)))
		}
		return c.Enum[n-1], sizeString, nil
	case KindSet:
		return c.setValue(v)
	case KindDate:
		return c.date(v)
	case KindTime:
		s, ok := v.(string)
		if !ok {
			return c.unexpected(v)
		}
		us, ok := parseTime(s)
		if !ok {
			return c.malformed(s)
		}
		return us, sizeScalar, nil
	case KindDateTimeMillis, KindDateTimeMicros:
		return c.datetime(v)
	case KindTimestamp:
		return c.timestamp(v)
	case KindGeometry:
		b, ok := v.([]byte)
		if !ok {
			return c.unexpected(v)
		}
		if len(b) < 4 {
			return nil, 0, undecodable(fmt.Errorf("column %s: geometry value of %d bytes has no SRID", c.Name, len(b)))
		}
		g := schema.Geometry{WKB: b[4:]}
		if srid := int32(binary.LittleEndian.Uint32(b)); srid != 0 {
			g.SRID = &srid // Debezium: SRID 0 means unset (null)
		}
		return g, sizeGeomHdr + len(b), nil
	case KindUUID, KindInet4, KindInet6:
		return c.pluginValue(v)
	}
	return nil, 0, undecodable(fmt.Errorf("column %s: no Converter", c.Name))
}

// integer converts any of go-mysql's integer types using the column's own
// width and signedness, so that it is exact whether or not the table map
// carried signedness (go-mysql decodes as signed without it).
func (c *Converter) integer(v any) (any, int, error) {
	var raw uint64
	switch x := v.(type) {
	case int32:
		if c.Kind == KindInt32 && c.Width == 4 && !c.Unsigned {
			return v, sizeScalar, nil // INT: already canonical
		}
		raw = uint64(uint32(x))
	case int64:
		if c.Kind == KindInt64 && c.Width == 8 {
			return v, sizeScalar, nil // BIGINT: already canonical
		}
		raw = uint64(x)
	case uint64:
		if c.Kind == KindUint64 {
			return v, sizeScalar, nil // BIGINT UNSIGNED: already canonical
		}
		raw = x
	case int8:
		raw = uint64(uint8(x))
	case uint8:
		raw = uint64(x)
	case int16:
		raw = uint64(uint16(x))
	case uint16:
		raw = uint64(x)
	case uint32:
		raw = uint64(x)
	default:
		return c.unexpected(v)
	}
	shift := 64 - 8*uint(c.Width)
	raw = raw << shift >> shift // keep the column's width
	switch {
	case c.Kind == KindUint64:
		return raw, sizeScalar, nil
	case c.Unsigned && c.Kind == KindInt64:
		return int64(raw), sizeScalar, nil
	case c.Unsigned:
		return int32(raw), sizeScalar, nil
	case c.Kind == KindInt64:
		return int64(raw), sizeScalar, nil
	}
	return int32(int64(raw<<shift) >> shift), sizeScalar, nil // sign-extend
}

func (c *Converter) textValue(v any) (any, int, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		if len(x) == 0 && c.BinaryJSON {
			// MySQL: an empty JSON document (INSERT IGNORE of NULL into a
			// NOT NULL column). Debezium's BinlogValueConverters.convertJson
			// writes NULL for a nullable column and "{}" otherwise.
			if c.Nullable {
				return nil, 0, nil
			}
			return "{}", sizeString + 2, nil
		}
		s = bytesAsString(x)
	case *replication.JsonDiff:
		return nil, 0, undecodable(fmt.Errorf("column %s: partial JSON update in the binlog; set binlog_row_value_options='' so rows carry full JSON values", c.Name))
	default:
		return c.unexpected(v)
	}
	out := c.Text.Decode(s)
	if _, isString := v.(string); isString && sameString(out, s) {
		return v, sizeString + len(s), nil // reuse go-mysql's boxed string
	}
	return out, sizeString + len(out), nil
}

func (c *Converter) setValue(v any) (any, int, error) {
	n, ok := v.(int64)
	if !ok {
		return c.unexpected(v)
	}
	bitsSet := uint64(n)
	if bitsSet == 0 {
		return "", sizeString, nil
	}
	if hi := 64 - bits.LeadingZeros64(bitsSet); hi > len(c.Set) {
		return nil, 0, undecodable(fmt.Errorf("column %s: SET bitmap %#x has bits beyond its %d members", c.Name, bitsSet, len(c.Set)))
	}
	if bitsSet&(bitsSet-1) == 0 {
		return c.Set[bits.TrailingZeros64(bitsSet)], sizeString, nil
	}
	var b strings.Builder
	for i, name := range c.Set {
		if bitsSet&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(name)
		}
	}
	return b.String(), sizeString + b.Len(), nil
}

// zeroDate is the value of a zero (or partly zero) date: NULL for a nullable
// column, the epoch for a NOT NULL one (Debezium's behaviour).
func (c *Converter) zeroDate() (any, int, error) {
	if c.Nullable {
		return nil, 0, nil
	}
	return c.Zero, sizeString, nil
}

func (c *Converter) date(v any) (any, int, error) {
	s, ok := v.(string)
	if !ok {
		return c.unexpected(v)
	}
	y, m, d, ok := parseDate(s)
	if !ok {
		return c.malformed(s)
	}
	if m == 0 || d == 0 {
		return c.zeroDate()
	}
	return int32(daysFromCivil(y, m, d)), sizeScalar, nil
}

func (c *Converter) datetime(v any) (any, int, error) {
	var us int64
	switch x := v.(type) {
	case time.Time:
		us = x.UnixMicro()
	case string:
		y, mo, d, h, mi, sec, usec, ok := parseDateTime(x)
		if !ok {
			return c.malformed(x)
		}
		if mo == 0 || d == 0 {
			return c.zeroDate()
		}
		us = (daysFromCivil(y, mo, d)*secondsPerDay+int64(h*3600+mi*60+sec))*microsPerSecond + int64(usec)
	default:
		return c.unexpected(v)
	}
	if c.Kind == KindDateTimeMillis {
		// fsp <= 3: the value is a whole number of milliseconds.
		return floorDiv(us, 1000), sizeScalar, nil
	}
	return us, sizeScalar, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (c *Converter) timestamp(v any) (any, int, error) {
	switch x := v.(type) {
	case time.Time:
		var buf [32]byte
		b := AppendISOTimestamp(buf[:0], x.Unix(), x.Nanosecond()/1000, c.FSP)
		return string(b), sizeString + len(b), nil
	case string:
		// go-mysql renders only the zero timestamp as text.
		if strings.HasPrefix(x, "0000-00-00") {
			return c.zeroDate()
		}
		return c.malformed(x)
	}
	return c.unexpected(v)
}

func (c *Converter) pluginValue(v any) (any, int, error) {
	s, ok := v.(string)
	if !ok {
		return c.unexpected(v)
	}
	var buf [16]byte
	n := 16
	if c.Kind == KindInet4 {
		n = 4
	}
	if len(s) > n {
		return nil, 0, undecodable(fmt.Errorf("column %s: %d-byte value for a %d-byte type", c.Name, len(s), n))
	}
	copy(buf[:], s) // restore the zero bytes the binlog strips
	var out string
	switch c.Kind {
	case KindUUID:
		out = formatUUID(buf[:])
	case KindInet4:
		out = formatInet4(buf[:])
	default:
		out = formatInet6(buf[:])
	}
	return out, sizeString + len(out), nil
}

func (c *Converter) unexpected(v any) (any, int, error) {
	return nil, 0, undecodable(fmt.Errorf("column %s: unexpected decoded value of type %T", c.Name, v))
}

func (c *Converter) malformed(s string) (any, int, error) {
	return nil, 0, undecodable(fmt.Errorf("column %s: malformed temporal value %q", c.Name, s))
}

// boxedYears holds YEAR values as boxed int32s so that converting one does
// not allocate (Go boxes only 0..255 for free).
var boxedYears = func() []any {
	out := make([]any, 2156)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}()
