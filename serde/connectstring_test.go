package serde

import "testing"

// Java's BigDecimal.toString and Float/Double.toString, as Connect prints
// key values in the key-change headers. Expected texts are what the JDK
// prints for these values.
func TestJavaNumberStrings(t *testing.T) {
	for in, want := range map[string]string{
		"12.30": "12.30", "-0.01": "-0.01", "0.00": "0.00", "0.000001": "0.000001",
		"0.0000001": "1E-7", "-0.00000012": "-1.2E-7", "0.0000000": "0E-7", "18446744073709551615": "18446744073709551615",
	} {
		if got := javaBigDecimal(in); got != want {
			t.Errorf("BigDecimal(%s).toString() = %s, want %s", in, got, want)
		}
	}
	for _, c := range []struct {
		f    float64
		bits int
		want string
	}{
		{1.5, 64, "1.5"}, {2, 64, "2.0"}, {1e7, 64, "1.0E7"}, {1.234e-5, 64, "1.234E-5"}, {0.001, 64, "0.001"},
		{-3.25, 32, "-3.25"}, {0, 64, "0.0"}, {1e300, 64, "1.0E300"},
	} {
		if got := javaFloat(c.f, c.bits); got != c.want {
			t.Errorf("toString(%v) = %s, want %s", c.f, got, c.want)
		}
	}
	if got := string(appendConnectString(nil, `a"b\c`)); got != `"a\"b\\c"` {
		t.Errorf("string %s", got)
	}
}
