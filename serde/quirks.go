package serde

import (
	"strings"

	"github.com/tidemark-cdc/tidemark/schema"
)

// Quirks: values Tidemark writes exactly where Debezium 3.6.1 does not, and
// that the Debezium* options turn back into Debezium's (docs/wire-format.md,
// "Deviations"). Each rewrites a canonical value just before it is encoded.

type quirk struct {
	year1900 bool // YEAR 0000 → 1900
	// dates before 0001-01-01 (year 0) → nil, or zero for a NOT NULL column
	minDate  int64 // days, ms or µs since the epoch, by column type
	zero     any   // the NOT NULL column's default, else the epoch
	optional bool
	latin1   bool // U+0081 U+008D U+008F U+0090 U+009D → U+FFFD
}

// Days, milliseconds and microseconds from the epoch to 0001-01-01.
const (
	year1Days   = -719162
	year1Millis = year1Days * 86400 * 1000
	year1Micros = year1Millis * 1000
)

func compileQuirk(c *schema.Column, opts Options) *quirk {
	q := quirk{optional: c.Nullable}
	switch c.Type {
	case schema.TypeYear:
		q.year1900 = opts.DebeziumYear0000
	case schema.TypeDate, schema.TypeDateTime:
		if !opts.DebeziumYear0Dates {
			break
		}
		switch {
		case c.Type == schema.TypeDate:
			q.minDate, q.zero = year1Days, int32(0)
		case c.FSP <= 3:
			q.minDate, q.zero = year1Millis, int64(0)
		default:
			q.minDate, q.zero = year1Micros, int64(0)
		}
		if c.HasDefault && c.Default != nil {
			q.zero = c.Default
		}
	case schema.TypeChar, schema.TypeText, schema.TypeEnum, schema.TypeSet:
		q.latin1 = opts.DebeziumLatin1 && c.Charset == "latin1"
	}
	if !q.year1900 && q.minDate == 0 && !q.latin1 {
		return nil
	}
	return &q
}

func (q *quirk) apply(v any) any {
	switch x := v.(type) {
	case int32:
		if q.year1900 && x == 0 {
			return int32(1900) // Debezium adds 1900 to the binlog's 0
		}
		if q.minDate != 0 && int64(x) < q.minDate {
			return q.zeroDate()
		}
	case int64:
		if q.minDate != 0 && x < q.minDate {
			return q.zeroDate()
		}
	case string:
		if q.latin1 && strings.ContainsAny(x, "\u0081\u008d\u008f\u0090\u009d") {
			// Java's ISO-8859-1 alias is windows-1252, which leaves these
			// five bytes undefined.
			return strings.NewReplacer("\u0081", "\ufffd", "\u008d", "\ufffd", "\u008f", "\ufffd", "\u0090", "\ufffd", "\u009d", "\ufffd").Replace(x)
		}
	}
	return v
}

// zeroDate is Debezium's value for a date it cannot read (a zero date, or
// one in year 0): NULL, or for a NOT NULL column its default.
func (q *quirk) zeroDate() any {
	if q.optional {
		return nil
	}
	return q.zero
}
