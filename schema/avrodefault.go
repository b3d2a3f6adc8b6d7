package schema

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Avro defaults. Avro's JSON encoding of a default follows the field's type
// (the union's first branch): numbers for int/long/float/double, true/false,
// strings, and bytes as a string of the code points U+0000..U+00FF, one per
// byte; a decimal is its two's-complement unscaled bytes. Jackson writes
// floats the way Java prints them, which for the values columns hold is the
// shortest decimal that reads back as the same float.

// jsonNumber is a number already rendered as JSON text.
type jsonNumber string

// avroDefaultJSON renders the canonical default value v of column c as the
// JSON value appendJSON writes.
func avroDefaultJSON(c *AvroColumn, v any) (any, error) {
	switch c.Kind {
	case AvroBoolean:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case AvroInt:
		if x, ok := v.(int32); ok {
			return int64(x), nil
		}
	case AvroLong:
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			// BIGINT UNSIGNED in long mode: values wrap, but Debezium 3.6.1
			// writes a default above 2^63-1 as 2^63-1.
			if x > math.MaxInt64 {
				return int64(math.MaxInt64), nil
			}
			return int64(x), nil
		}
	case AvroFloat:
		if x, ok := v.(float32); ok {
			return floatJSON(float64(x), 32)
		}
	case AvroDouble:
		switch x := v.(type) {
		case float64:
			return floatJSON(x, 64)
		case float32:
			return floatJSON(float64(x), 64)
		}
	case AvroString:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case AvroBytes:
		switch x := v.(type) {
		case []byte:
			return bytesJSON(x), nil
		case string:
			return bytesJSON([]byte(x)), nil
		}
	case AvroDecimal:
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case uint64:
			text = strconv.FormatUint(x, 10)
		default:
			return nil, fmt.Errorf("want decimal text, got %T", v)
		}
		b, err := decimalUnscaledBytes(text, c.Scale)
		if err != nil {
			return nil, err
		}
		return bytesJSON(b), nil
	default:
		return nil, fmt.Errorf("no Avro default for this column kind")
	}
	return nil, fmt.Errorf("value of type %T does not fit the column", v)
}

// bytesJSON is Avro's JSON form of bytes: one code point per byte.
func bytesJSON(b []byte) string {
	r := make([]rune, len(b))
	for i, x := range b {
		r[i] = rune(x)
	}
	return string(r)
}

func floatJSON(f float64, bits int) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v has no JSON form", f)
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".e") {
		s += ".0" // Java prints 2.0, not 2
	}
	return jsonNumber(s), nil
}

// decimalUnscaledBytes is the big-endian two's complement of text (a plain
// decimal such as "-12.30") scaled to scale fraction digits, in the fewest
// bytes, as Connect's Decimal.fromLogical writes BigDecimal.unscaledValue().
func decimalUnscaledBytes(text string, scale int) ([]byte, error) {
	neg := strings.HasPrefix(text, "-")
	t := strings.TrimPrefix(strings.TrimPrefix(text, "-"), "+")
	whole, frac, _ := strings.Cut(t, ".")
	if len(frac) > scale {
		if strings.Trim(frac[scale:], "0") != "" {
			return nil, fmt.Errorf("decimal %q has more than %d fraction digits", text, scale)
		}
		frac = frac[:scale]
	}
	digits := whole + frac + strings.Repeat("0", scale-len(frac))
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok || digits == "" {
		return nil, fmt.Errorf("not a decimal: %q", text)
	}
	if neg {
		n.Neg(n)
	}
	return twosComplement(n), nil
}

// twosComplement is BigInteger.toByteArray: the shortest big-endian two's
// complement form, at least one byte.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n - 1, inverted.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
