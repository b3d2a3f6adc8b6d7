package serde

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// The __debezium.newkey / __debezium.oldkey headers of a primary-key change
// hold the other key as Kafka Connect's SimpleHeaderConverter writes a
// Struct (Values.convertToString): {"id":5}, {"a":"x\"y","b":1.5}. Debezium
// on Connect writes them that way whatever the record's converter, so this
// is what its consumers parse. The rules (Values.append, embedded values):
//   - field names and strings quoted, with \ and " escaped by a backslash
//     (nothing else is escaped);
//   - integers in decimal, decimals as BigDecimal.toString, floats as Java's
//     Float/Double.toString, booleans true/false, null as null;
//   - bytes as standard Base64 in quotes; a nested struct (a geometry) as
//     another {...}.

// appendConnectKey writes the key of row as Connect's string form.
func (e *Encoder) appendConnectKey(b []byte, p *plan, t *schema.Table, row change.Row, src *change.Source) []byte {
	b = append(b, '{')
	for i, ci := range p.key {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendConnectString(b, p.keyNames[i])
		b = append(b, ':')
		b = appendConnectValue(b, &p.cols[ci], row[ci])
	}
	if p.shardField {
		b = append(b, ',')
		b = appendConnectString(b, e.opts.KeyShardField)
		b = append(b, ':')
		if e.opts.KeyShardValue != nil {
			b = appendConnectString(b, e.opts.KeyShardValue(src))
		} else {
			db, tbl := sourceNames(t, src)
			b = appendConnectString(b, src.Shard+"."+db+"."+tbl)
		}
	}
	return append(b, '}')
}

func appendConnectString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' || s[i] == '"' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// appendConnectValue writes one key column's canonical value as the Connect
// value Debezium would hold for it.
func appendConnectValue(b []byte, c *colPlan, v any) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		if c.op == opDecimalText || c.op == opDecimalU64 {
			return append(b, javaBigDecimal(x)...)
		}
		return appendConnectString(b, x)
	case []byte:
		if c.op == opString {
			return appendConnectString(b, string(x))
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case float32:
		return append(b, javaFloat(float64(x), 32)...)
	case float64:
		return append(b, javaFloat(x, 64)...)
	case uint64:
		if c.op == opLongU64 {
			return strconv.AppendInt(b, int64(x), 10) // long mode wraps
		}
		return strconv.AppendUint(b, x, 10)
	case schema.Geometry:
		b = append(b, `{"wkb":"`...)
		b = base64.StdEncoding.AppendEncode(b, x.WKB)
		b = append(b, `","srid":`...)
		if x.SRID == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(*x.SRID), 10)
		}
		return append(b, '}')
	}
	if n, ok := anyInt(v); ok {
		return strconv.AppendInt(b, n, 10)
	}
	return appendConnectString(b, "?")
}

// javaBigDecimal is BigDecimal.toString of a plain decimal text such as
// "-0.0000001": plain unless the adjusted exponent is below -6, then
// scientific ("-1E-7", "1.2E-7").
func javaBigDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(t, ".")
	scale := len(frac)
	digits := strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		digits = "0"
	}
	adjusted := len(digits) - 1 - scale
	if adjusted >= -6 {
		return s
	}
	out := digits[:1]
	if len(digits) > 1 {
		out += "." + digits[1:]
	}
	out += "E" + strconv.Itoa(adjusted)
	if neg && digits != "0" {
		out = "-" + out
	}
	return out
}

// javaFloat is Java's Float.toString / Double.toString: the shortest digits
// that read back, plain between 10^-3 and 10^7 (always with a fraction
// digit), computerized scientific notation otherwise ("1.0E10").
func javaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // 1.234e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}
