package mysql

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Reading rows with SELECT (the snapshot's chunk queries) into the same
// canonical values the binlog reader produces for the same rows.
//
// Chunk queries run as prepared statements: the binary protocol carries
// integers, FLOAT and DOUBLE in their binary form (a FLOAT is its exact
// float32, which text would round to 6 digits), and temporal values as
// fields. SelectColumns picks what each column is selected as, so that
// every value arrives in the form its binlog twin has (ENUM/SET as their
// index and bitmap, strings as their raw bytes under
// character_set_results=binary, TIMESTAMP in the UTC session), and
// ConvertSQL hands it to the column's Converter as go-mysql's binlog
// decoder would.

// chunkQueryTimeout bounds one chunk query: far above an indexed range scan
// of one chunk, far below a hung server.
const chunkQueryTimeout = 5 * time.Minute

// ReadSession is what a connection that reads rows with SELECT sets first:
// raw column bytes (decoded by the column's charset as the binlog's are),
// TIMESTAMPs rendered in UTC, utf8mb4 for statements and parameters.
var ReadSession = []string{
	"SET NAMES utf8mb4",
	"SET character_set_results = binary",
	"SET time_zone = '+00:00'",
}

// SelectColumns is the select list of a row query on t: every column, in
// order, in the form ConvertSQL expects.
func SelectColumns(t *schema.Table) string {
	var b strings.Builder
	for i := range t.Columns {
		c := &t.Columns[i]
		if i > 0 {
			b.WriteString(", ")
		}
		q := QuoteIdent(c.Name)
		switch c.Type {
		case schema.TypeEnum, schema.TypeSet:
			// The member index / bitmap, as the binlog carries them: the
			// text of an invalid-value ENUM ('') or of a SET with members
			// named alike would not tell.
			b.WriteString(q + "+0")
		case schema.TypeDate, schema.TypeTime, schema.TypeDateTime, schema.TypeTimestamp:
			// As the server's text (the binlog decoder's form for zero and
			// pre-1970 values): the binary protocol's temporal fields cost
			// go-mysql an fmt call each, the hottest part of a chunk.
			b.WriteString("CAST(" + q + " AS CHAR)")
		default:
			b.WriteString(q)
		}
	}
	return b.String()
}

// QuoteIdent quotes a MySQL identifier with backticks.
func QuoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// QueryRows runs stmt with args as a prepared statement and calls fn with
// every row converted by convs (one per selected column) and its estimated
// size, streaming: a row is converted when it arrives. An error from fn
// stops the calls; the rest of the result is read and dropped (the
// connection stays usable) and QueryRows returns that error.
func (q *Conn) QueryRows(ctx context.Context, convs []Converter, stmt string, args []any, fn func(row change.Row, size int) error) error {
	if err := q.connect(ctx); err != nil {
		return err
	}
	var fnErr error
	err := q.run(ctx, stmt, chunkQueryTimeout, func(c *client.Conn) error {
		st, err := c.Prepare(stmt)
		if err != nil {
			return err
		}
		defer st.Close()
		if st.ColumnNum() != len(convs) {
			fnErr = fmt.Errorf("query %q: %d columns for %d converters", abbreviate(stmt), st.ColumnNum(), len(convs))
		}
		var res gomysql.Result
		defer res.Close()
		return st.ExecuteSelectStreaming(&res, func(fields []gomysql.FieldValue) error {
			if fnErr != nil {
				return nil // drain
			}
			row := make(change.Row, len(fields))
			size := 0
			for j := range fields {
				v, n, err := convs[j].ConvertSQL(&fields[j])
				if err != nil {
					fnErr = err
					return nil
				}
				row[j] = v
				size += n
			}
			fnErr = fn(row, size)
			return nil
		}, nil, args...)
	})
	if err != nil {
		return err
	}
	return fnErr
}

// ConvertSQL converts one value of a row query (binary protocol, selected
// as SelectColumns says) to its canonical value and size, through the same
// Convert as the binlog's value of the column.
func (c *Converter) ConvertSQL(fv *gomysql.FieldValue) (any, int, error) {
	if fv.Type == gomysql.FieldValueTypeNull {
		return nil, SizeNull, nil
	}
	switch c.Kind {
	case KindInt32, KindInt64, KindUint64, KindYear, KindEnum, KindSet:
		var n int64
		switch fv.Type {
		case gomysql.FieldValueTypeUnsigned:
			if c.Kind == KindUint64 {
				return c.Convert(fv.AsUint64())
			}
			n = int64(fv.AsUint64())
		case gomysql.FieldValueTypeSigned:
			n = fv.AsInt64()
		case gomysql.FieldValueTypeFloat: // an expression's DOUBLE (col+0 on some servers)
			n = int64(fv.AsFloat64())
		default:
			return c.unexpected(fv.Value())
		}
		if c.Kind == KindYear {
			return c.Convert(int(n))
		}
		return c.Convert(n)
	case KindFloat, KindDouble:
		if fv.Type != gomysql.FieldValueTypeFloat {
			return c.unexpected(fv.Value())
		}
		if c.Kind == KindFloat {
			return c.Convert(float32(fv.AsFloat64())) // a float32 widened exactly
		}
		return c.Convert(fv.AsFloat64())
	}
	if fv.Type != gomysql.FieldValueTypeString {
		return c.unexpected(fv.Value())
	}
	raw := fv.AsString() // go-mysql reuses this buffer for the next row
	switch c.Kind {
	case KindBool, KindBits:
		if len(raw) > 8 {
			return nil, 0, undecodable(fmt.Errorf("column %s: BIT value of %d bytes", c.Name, len(raw)))
		}
		var n uint64
		for _, b := range raw {
			n = n<<8 | uint64(b)
		}
		return c.Convert(int64(n))
	case KindBytes, KindGeometry:
		return c.Convert(bytes.Clone(raw))
	case KindUUID, KindInet4, KindInet6:
		// SELECT prints these types' canonical text.
		s := string(raw)
		return s, sizeString + len(s), nil
	case KindTimestamp:
		y, mo, d, h, mi, sec, usec, ok := parseDateTime(bytesAsString(raw))
		if !ok || mo == 0 || d == 0 {
			return c.Convert(string(raw)) // the zero timestamp; malformed otherwise
		}
		return c.Convert(time.Date(y, time.Month(mo), d, h, mi, sec, usec*1000, time.UTC))
	case KindDate, KindTime, KindDateTimeMillis, KindDateTimeMicros:
		// Parsed into numbers, not kept: no copy (an error copies it).
		return c.Convert(bytesAsString(raw))
	}
	return c.Convert(string(raw))
}
