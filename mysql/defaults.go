package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/schema"
)

// Column defaults: information_schema.COLUMNS.COLUMN_DEFAULT (MariaDB 10.2.7+
// prints it as SHOW CREATE TABLE does: string literals quoted with SQL
// escapes, numbers bare, b'101' for BIT, NULL for DEFAULT NULL, expressions
// such as current_timestamp() or (1 + 1) as written) turned into the
// column's canonical default (schema/value.go), the way Debezium's MySQL
// connector turns the DDL's DEFAULT into the Avro default:
//   - a literal is converted like a value of the column;
//   - CURRENT_TIMESTAMP (DATETIME, TIMESTAMP) becomes the epoch;
//   - any other expression gives no default;
//   - a zero date ('0000-00-00') becomes the epoch.
//
// Debezium reads string literals without undoing their escapes ('it''s'
// stays it''s, 'ab\0\0' stays ab\0\0); Tidemark's Default is the value
// MariaDB stores, and DebeziumDefault keeps Debezium's text where it differs
// (encoding.string_defaults: debezium).

// ColumnDefault fills col's HasDefault, Default, DebeziumDefault and
// DefaultText from COLUMN_DEFAULT (nil: SQL NULL, the column has no
// DEFAULT clause). col's type fields must be set. A literal that does not
// read as a value of the column is an error.
func ColumnDefault(col *schema.Column, text *string) error {
	col.HasDefault, col.Default, col.DebeziumDefault, col.DefaultText = false, nil, nil, ""
	if text == nil {
		return nil
	}
	raw := *text
	col.DefaultText = raw
	switch {
	case strings.EqualFold(raw, "NULL"):
		col.HasDefault = true
		return nil
	case len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'':
		exact, err := unquoteSQL(raw)
		if err != nil {
			return fmt.Errorf("column %s: DEFAULT %s: %w", col.Name, raw, err)
		}
		v, err := literalValue(col, exact)
		if err != nil {
			return fmt.Errorf("column %s: DEFAULT %s: %w", col.Name, raw, err)
		}
		col.HasDefault, col.Default = true, v
		if inner := raw[1 : len(raw)-1]; inner != exact && stringLike(col.Type) {
			if dv, err := literalValue(col, inner); err == nil && !schema.SameValue(dv, v) {
				col.DebeziumDefault = dv
			}
		}
		return nil
	case isCurrentTimestamp(raw) && (col.Type == schema.TypeDateTime || col.Type == schema.TypeTimestamp):
		col.HasDefault, col.Default = true, epochValue(col)
		if col.Type == schema.TypeTimestamp {
			// Debezium writes this epoch without fraction digits whatever
			// the column's precision (CURRENT_TIMESTAMP(3) too).
			col.Default = string(AppendISOTimestamp(nil, 0, 0, 0))
		}
		return nil
	case len(raw) > 2 && (raw[0] == 'b' || raw[0] == 'B') && raw[1] == '\'' && raw[len(raw)-1] == '\'':
		n, err := strconv.ParseUint(raw[2:len(raw)-1], 2, 64)
		if err != nil {
			return fmt.Errorf("column %s: DEFAULT %s: %w", col.Name, raw, err)
		}
		v, err := integerDefault(col, n)
		if err != nil {
			return fmt.Errorf("column %s: DEFAULT %s: %w", col.Name, raw, err)
		}
		col.HasDefault, col.Default = true, v
		return nil
	case isNumber(raw):
		v, err := literalValue(col, raw)
		if err != nil {
			return fmt.Errorf("column %s: DEFAULT %s: %w", col.Name, raw, err)
		}
		col.HasDefault, col.Default = true, v
		return nil
	}
	return nil // another expression: no Avro default, as with Debezium
}

func stringLike(t schema.Type) bool {
	switch t {
	case schema.TypeChar, schema.TypeText, schema.TypeBinary, schema.TypeBlob, schema.TypeEnum, schema.TypeSet, schema.TypeJSON:
		return true
	}
	return false
}

func isCurrentTimestamp(s string) bool {
	s = strings.ToLower(s)
	for _, p := range []string{"current_timestamp", "now(", "localtimestamp", "localtime"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '.')
}

// unquoteSQL undoes a quoted SQL string literal's escapes: ” and the
// backslash escapes MariaDB prints (\0 \' \" \b \n \r \t \Z \\ \% \_).
func unquoteSQL(q string) (string, error) {
	s := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\\' && i+1 < len(s):
			i++
			WriteUnescaped(&b, s[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// WriteUnescaped writes what the backslash escape \c stands for in a
// MySQL string literal: \0 \b \n \r \t \Z are control characters, \% and
// \_ keep their backslash (they are LIKE escapes), any other c is itself.
func WriteUnescaped(b *strings.Builder, c byte) {
	switch c {
	case '0':
		b.WriteByte(0)
	case 'b':
		b.WriteByte('\b')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'Z':
		b.WriteByte(26)
	case '%', '_':
		b.WriteByte('\\')
		b.WriteByte(c)
	default:
		b.WriteByte(c)
	}
}

// epochValue is the canonical epoch of a temporal column.
func epochValue(col *schema.Column) any {
	switch col.Type {
	case schema.TypeDate:
		return int32(0)
	case schema.TypeTimestamp:
		return string(AppendISOTimestamp(nil, 0, 0, col.FSP))
	}
	return int64(0)
}

// literalValue converts a literal's text (unquoted) to the canonical value
// of col.
func literalValue(col *schema.Column, s string) (any, error) {
	switch col.Type {
	case schema.TypeTinyInt, schema.TypeSmallInt, schema.TypeMediumInt, schema.TypeInt, schema.TypeBigInt:
		if col.Unsigned {
			n, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
			if err != nil {
				return nil, err
			}
			return integerDefault(col, n)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		if col.Type == schema.TypeBigInt {
			return n, nil
		}
		return int32(n), nil
	case schema.TypeYear:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case schema.TypeDecimal:
		return decimalText(s, col.Scale)
	case schema.TypeFloat:
		if col.Scale > 0 { // FLOAT(M,D): a double, as Debezium maps it
			return strconv.ParseFloat(s, 64)
		}
		f, err := strconv.ParseFloat(s, 32)
		return float32(f), err
	case schema.TypeDouble:
		return strconv.ParseFloat(s, 64)
	case schema.TypeBit:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return integerDefault(col, n)
	case schema.TypeChar, schema.TypeText, schema.TypeEnum, schema.TypeSet, schema.TypeJSON:
		return s, nil
	case schema.TypeBinary, schema.TypeBlob:
		b := []byte(s)
		if col.Type == schema.TypeBinary && col.Length > len(b) && !strings.Contains(col.RawType, "varbinary") {
			b = append(b, make([]byte, col.Length-len(b))...) // BINARY(n) pads with zero bytes
		}
		return b, nil
	case schema.TypeDate:
		y, m, d, ok := parseDate(s)
		if !ok {
			return nil, fmt.Errorf("not a date")
		}
		if m == 0 || d == 0 {
			return int32(0), nil
		}
		return int32(daysFromCivil(y, m, d)), nil
	case schema.TypeTime:
		us, ok := parseTime(s)
		if !ok {
			return nil, fmt.Errorf("not a time")
		}
		return us, nil
	case schema.TypeDateTime, schema.TypeTimestamp:
		if len(s) == 10 {
			s += " 00:00:00"
		}
		y, mo, d, h, mi, sec, usec, ok := parseDateTime(s)
		if !ok {
			return nil, fmt.Errorf("not a date and time")
		}
		if mo == 0 || d == 0 {
			return epochValue(col), nil
		}
		unix := daysFromCivil(y, mo, d)*secondsPerDay + int64(h*3600+mi*60+sec)
		if col.Type == schema.TypeTimestamp {
			// Debezium reads a TIMESTAMP default as UTC, as the stack's
			// servers (time_zone UTC) store it.
			return string(AppendISOTimestamp(nil, unix, usec, col.FSP)), nil
		}
		us := unix*microsPerSecond + int64(usec)
		if col.FSP <= 3 {
			return floorDiv(us, 1000), nil
		}
		return us, nil
	}
	return nil, fmt.Errorf("no default for %s columns", col.Type)
}

// integerDefault is n as the canonical value of an integer or BIT column.
func integerDefault(col *schema.Column, n uint64) (any, error) {
	switch col.Type {
	case schema.TypeBit:
		if col.Length <= 1 {
			return n != 0, nil
		}
		out := make([]byte, (col.Length+7)/8)
		for i := range out {
			out[i] = byte(n >> (8 * i))
		}
		return out, nil
	case schema.TypeBigInt:
		if col.Unsigned {
			return n, nil
		}
		return int64(n), nil
	case schema.TypeInt:
		if col.Unsigned {
			return int64(n), nil
		}
	}
	return int32(n), nil
}

// decimalText is s as MySQL prints a DECIMAL(p,scale): exactly scale
// fraction digits, no leading '+', no negative zero.
func decimalText(s string, scale int) (string, error) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" {
		whole = "0"
	}
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("not a decimal")
		}
	}
	if len(frac) > scale {
		frac = frac[:scale]
	}
	frac += strings.Repeat("0", scale-len(frac))
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if scale > 0 {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, nil
}
