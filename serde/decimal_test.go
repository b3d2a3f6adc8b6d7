package serde

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// javaBytes is Java's BigInteger.toByteArray: minimal big-endian two's
// complement with at least one sign bit. The reference our encoder must
// match byte for byte (Debezium's Decimal.fromLogical uses it).
func javaBytes(x *big.Int) []byte {
	n := x.BitLen()/8 + 1 // one more than the magnitude's bytes leaves room for the sign
	if x.Sign() < 0 {
		// -2^(8k-1) fits in k bytes: BitLen of (|x|-1).
		m := new(big.Int).Neg(x)
		m.Sub(m, big.NewInt(1))
		n = m.BitLen()/8 + 1
		mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
		v := new(big.Int).Add(mod, x)
		out := v.Bytes()
		for len(out) < n {
			out = append([]byte{0}, out...)
		}
		return out
	}
	out := x.Bytes()
	for len(out) < n {
		out = append([]byte{0}, out...)
	}
	return out
}

// unscaled parses decimal text into its unscaled integer at scale.
func unscaled(t testing.TB, s string, scale int) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad decimal %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if !r.IsInt() {
		t.Fatalf("%q has more than %d fraction digits", s, scale)
	}
	return r.Num()
}

func TestJavaBytesReference(t *testing.T) {
	for v, want := range map[int64]string{0: "00", 1: "01", 127: "7f", 128: "0080", 255: "00ff", 256: "0100",
		-1: "ff", -128: "80", -129: "ff7f", -256: "ff00", -32768: "8000", -32769: "ff7fff"} {
		if got := javaBytes(big.NewInt(v)); strconv.Quote(string(got)) != strconv.Quote(string(mustHex(want))) {
			t.Errorf("javaBytes(%d) = %x, want %s", v, got, want)
		}
	}
}

func mustHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		v, _ := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		b[i] = byte(v)
	}
	return b
}

func TestDecimalText(t *testing.T) {
	max65 := strings.Repeat("9", 35) + "." + strings.Repeat("9", 30)
	cases := []struct {
		text  string
		scale int
	}{
		{"0", 0}, {"-0", 0}, {"-0.00", 2}, {"0.00", 2}, {"1", 0}, {"-1", 0},
		{"127", 0}, {"128", 0}, {"-128", 0}, {"-129", 0}, {"255", 0}, {"-32768", 0},
		{"12.34", 2}, {"-12.340", 3}, {"+5.5", 1}, {".5", 1}, {"5.", 0}, {"1.5", 3}, // padded to scale
		{"999999999999999999", 0}, {"-999999999999999999", 0}, // 18 digits: fast path edge
		{"9999999999999999999", 0}, {"-9999999999999999999", 0}, // 19 digits: wide path
		{"9223372036854775807", 0}, {"-9223372036854775808", 0}, {"18446744073709551615", 0},
		{max65, 30}, {"-" + max65, 30}, {"0." + strings.Repeat("0", 29) + "1", 30},
		{"-0." + strings.Repeat("0", 29) + "1", 30},
		{strings.Repeat("9", 65), 0}, {"-" + strings.Repeat("9", 65), 0},
		{"1.2300", 2}, // trailing zeros beyond the scale are harmless
	}
	for _, tc := range cases {
		got, err := appendDecimalText(nil, tc.text, tc.scale)
		if err != nil {
			t.Errorf("%q scale %d: %v", tc.text, tc.scale, err)
			continue
		}
		want := appendBytes(nil, javaBytes(unscaled(t, tc.text, tc.scale)))
		if !bytes.Equal(got, want) {
			t.Errorf("%q scale %d: %x, want %x", tc.text, tc.scale, got, want)
		}
	}
	for _, bad := range []struct {
		text  string
		scale int
		err   error
	}{
		{"", 0, errDecimalSyntax}, {"-", 0, errDecimalSyntax}, {".", 2, errDecimalSyntax},
		{"1e5", 0, errDecimalSyntax}, {"12a", 0, errDecimalSyntax}, {"1.2.3", 2, errDecimalSyntax},
		{" 1", 0, errDecimalSyntax}, {"1.234", 2, errDecimalScale}, {"NaN", 0, errDecimalSyntax},
		{strings.Repeat("9", 78), 0, errDecimalRange},
	} {
		if _, err := appendDecimalText(nil, bad.text, bad.scale); !errors.Is(err, bad.err) {
			t.Errorf("%q: err %v, want %v", bad.text, err, bad.err)
		}
	}
}

func TestDecimalUint64(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		got := appendDecimalUint64(nil, v)
		want := appendBytes(nil, javaBytes(new(big.Int).SetUint64(v)))
		if !bytes.Equal(got, want) {
			t.Errorf("%d: %x, want %x", v, got, want)
		}
	}
	// 18446744073709551615 needs 9 bytes: 00 ff ff ff ff ff ff ff ff.
	if got := appendDecimalUint64(nil, math.MaxUint64); len(got) != 10 || got[1] != 0 {
		t.Errorf("max uint64: %x", got)
	}
}

// TestDecimalRandom compares random decimals of every precision with the
// big.Int reference, and decodes them back with hamba.
func TestDecimalRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		prec := 1 + rng.IntN(65)
		scale := rng.IntN(min(prec, 30) + 1)
		digits := make([]byte, 1+rng.IntN(prec))
		for j := range digits {
			digits[j] = byte('0' + rng.IntN(10))
		}
		s := string(digits)
		for len(s) < scale+1 {
			s = "0" + s
		}
		text := s[:len(s)-scale]
		if scale > 0 {
			text += "." + s[len(s)-scale:]
		}
		if rng.IntN(2) == 0 {
			text = "-" + text
		}
		got, err := appendDecimalText(nil, text, scale)
		if err != nil {
			t.Fatalf("%q scale %d: %v", text, scale, err)
		}
		want := appendBytes(nil, javaBytes(unscaled(t, text, scale)))
		if !bytes.Equal(got, want) {
			t.Fatalf("%q scale %d: %x, want %x", text, scale, got, want)
		}
		r := avroReader{b: got}
		back := decimalFromBytes(r.readBytes(), scale)
		if back.Rat().Cmp(mustRat(text)) != 0 || r.err != nil || len(r.b) != 0 {
			t.Fatalf("%q scale %d: decodes back as %s", text, scale, back)
		}
	}
}

func TestDecimalHambaRoundTrip(t *testing.T) {
	s := avro.MustParse(`{"type":"bytes","logicalType":"decimal","precision":65,"scale":30}`)
	for _, text := range []string{"0", "-1.5", strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), "-0.000000000000000000000000000001"} {
		b, err := appendDecimalText(nil, text, 30)
		if err != nil {
			t.Fatal(err)
		}
		var r *big.Rat
		if err := avro.Unmarshal(s, b, &r); err != nil {
			t.Fatal(err)
		}
		if r.Cmp(mustRat(text)) != 0 {
			t.Errorf("%s: hamba reads %s", text, r.FloatString(30))
		}
	}
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{0, 0, "0"}, {0, 2, "0.00"}, {-1234, 3, "-1.234"}, {5, 3, "0.005"}, {-5, 3, "-0.005"},
		{1234, 0, "1234"}, {12, -2, "1200"},
	} {
		d := Decimal{Unscaled: big.NewInt(tc.unscaled), Scale: tc.scale}
		if got := d.String(); got != tc.want {
			t.Errorf("%d scale %d: %q, want %q", tc.unscaled, tc.scale, got, tc.want)
		}
		back := decimalFromBytes(javaBytes(big.NewInt(tc.unscaled)), tc.scale)
		if back.Unscaled.Int64() != tc.unscaled {
			t.Errorf("decimalFromBytes(%d) = %s", tc.unscaled, back.Unscaled)
		}
	}
}
