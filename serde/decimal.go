package serde

import (
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"strings"
)

// Avro decimals are the unscaled integer as big-endian two's complement.
// Debezium writes Java's BigInteger.toByteArray(): the minimal number of
// bytes that keeps the sign bit, so 0 is [00], 128 is [00 80], -1 is [ff].
// Keys containing decimals are partitioned and compacted by their bytes, so
// Tidemark writes exactly the same minimal form.

// appendDecimalText appends the Avro bytes (length + two's complement) of a
// decimal given as text ("-12.340", "7", "+0.5"), scaled to scale. The text
// may have fewer fraction digits than scale (it is padded) but not more,
// unless the extra digits are zeros: MySQL prints exactly scale digits, so
// anything else would be a reader bug, and rounding would silently change
// data.
func appendDecimalText(b []byte, s string, scale int) ([]byte, error) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && (!hasDot || frac == "") {
		return b, errDecimalSyntax
	}
	if len(frac) > scale {
		for i := 0; i < len(frac); i++ {
			if frac[i]-'0' > 9 {
				return b, errDecimalSyntax
			}
		}
		extra := frac[scale:]
		if strings.Trim(extra, "0") != "" {
			return b, errDecimalScale
		}
		frac = frac[:scale]
	}
	pad := scale - len(frac)
	digits := len(intPart) + len(frac) + pad

	if digits <= 18 { // fits int64: no multi-word arithmetic
		var v int64
		for _, part := range [2]string{intPart, frac} {
			for i := 0; i < len(part); i++ {
				c := part[i] - '0'
				if c > 9 {
					return b, errDecimalSyntax
				}
				v = v*10 + int64(c)
			}
		}
		for ; pad > 0; pad-- {
			v *= 10
		}
		if neg {
			v = -v
		}
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		return appendMinimalTwos(b, buf[:]), nil
	}
	if digits > 77 { // 10^77 > 2^256: cannot be a MySQL DECIMAL (≤ 65 digits)
		return b, errDecimalRange
	}

	// 256-bit magnitude, little-endian words, fed 19 digits at a time.
	var w [4]uint64
	mulAdd := func(mul, add uint64) {
		carry := add
		for i := range w {
			hi, lo := bits.Mul64(w[i], mul)
			lo, c := bits.Add64(lo, carry, 0)
			w[i] = lo
			carry = hi + c
		}
	}
	var chunk uint64
	n := 0
	for _, part := range [2]string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i] - '0'
			if c > 9 {
				return b, errDecimalSyntax
			}
			chunk = chunk*10 + uint64(c)
			if n++; n == 19 {
				mulAdd(pow10[19], chunk)
				chunk, n = 0, 0
			}
		}
	}
	for ; pad > 0; pad-- {
		chunk *= 10
		if n++; n == 19 {
			mulAdd(pow10[19], chunk)
			chunk, n = 0, 0
		}
	}
	if n > 0 {
		mulAdd(pow10[n], chunk)
	}
	if w[3]>>63 != 0 {
		return b, errDecimalRange
	}
	if neg { // two's complement: invert and add one
		carry := uint64(1)
		for i := range w {
			w[i], carry = bits.Add64(^w[i], carry, 0)
		}
	}
	var buf [32]byte
	for i := range w {
		binary.BigEndian.PutUint64(buf[24-8*i:], w[i])
	}
	return appendMinimalTwos(b, buf[:]), nil
}

// appendDecimalUint64 appends an unsigned 64-bit integer as an Avro
// decimal with scale 0 (BIGINT UNSIGNED as decimal(20,0)).
func appendDecimalUint64(b []byte, v uint64) []byte {
	var buf [9]byte
	binary.BigEndian.PutUint64(buf[1:], v)
	return appendMinimalTwos(b, buf[:])
}

// appendMinimalTwos appends the length-prefixed minimal form of a
// big-endian two's complement number: leading bytes that only repeat the
// sign are dropped.
func appendMinimalTwos(b []byte, n []byte) []byte {
	for len(n) > 1 && ((n[0] == 0x00 && n[1]&0x80 == 0) || (n[0] == 0xFF && n[1]&0x80 != 0)) {
		n = n[1:]
	}
	return appendBytes(b, n)
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

var (
	errDecimalSyntax = errors.New("not a decimal number")
	errDecimalScale  = errors.New("more fraction digits than the column's scale")
	errDecimalRange  = errors.New("decimal out of range")
)

// Decimal is a decoded Avro decimal: exact, with the writer schema's scale.
// Its String is the plain decimal text with exactly Scale fraction digits
// ("-12.340"), the form MySQL prints and Record.JSON emits.
type Decimal struct {
	Unscaled *big.Int
	Scale    int
}

func decimalFromBytes(b []byte, scale int) Decimal {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 { // negative: subtract 2^(8·len)
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return Decimal{Unscaled: v, Scale: scale}
}

func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	s := d.Unscaled.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if d.Scale > 0 {
		if len(s) <= d.Scale {
			s = strings.Repeat("0", d.Scale-len(s)+1) + s
		}
		s = s[:len(s)-d.Scale] + "." + s[len(s)-d.Scale:]
	} else if d.Scale < 0 && s != "0" {
		s += strings.Repeat("0", -d.Scale)
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Rat returns the exact value.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.Unscaled)
	if d.Scale > 0 {
		r.Quo(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)))
	} else if d.Scale < 0 {
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil)))
	}
	return r
}

// MarshalJSON writes the decimal as a JSON string: exact, whatever its size.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.String() + `"`), nil
}
