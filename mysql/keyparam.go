package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tidemark-cdc/tidemark/schema"
)

// Key parameters: the reverse of conversion, for the few types a snapshot
// paginates by. KeyParam renders a canonical key value as the query
// parameter that compares equal to the stored value (text the server parses
// back exactly, or raw bytes), so that `WHERE key > ?` resumes exactly after
// a row. Session time zone UTC is assumed (snapshot connections set it).

// KeyTypeOK reports whether a primary key column can be paginated exactly;
// the reason when not.
func KeyTypeOK(c *schema.Column) (bool, string) {
	switch c.Type {
	case schema.TypeTinyInt, schema.TypeSmallInt, schema.TypeMediumInt, schema.TypeInt, schema.TypeBigInt,
		schema.TypeDecimal, schema.TypeChar, schema.TypeText, schema.TypeBinary, schema.TypeBlob,
		schema.TypeDate, schema.TypeDateTime, schema.TypeTimestamp, schema.TypeTime, schema.TypeYear:
		return true, ""
	case schema.TypeEnum, schema.TypeSet:
		return false, "ENUM and SET keys sort by member index but compare as text"
	case schema.TypeFloat, schema.TypeDouble:
		return false, "FLOAT and DOUBLE keys do not round trip through text exactly"
	}
	return false, c.Type.String() + " keys are not supported"
}

// KeyParam renders the canonical value v of key column c as a query
// parameter: a string, or []byte for binary columns.
func KeyParam(c *schema.Column, v any) (any, error) {
	switch x := v.(type) {
	case int32:
		switch c.Type {
		case schema.TypeDate:
			y, m, d := civilFromDays(int64(x))
			return fmt.Sprintf("%04d-%02d-%02d", y, m, d), nil
		}
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		switch c.Type {
		case schema.TypeDateTime:
			us := x
			if c.FSP <= 3 {
				us *= 1000 // milliseconds
			}
			return formatDateTime(us, c.FSP), nil
		case schema.TypeTime:
			return formatTime(x, c.FSP), nil
		}
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case string:
		if c.Type == schema.TypeTimestamp { // "2024-05-06T07:08:09.123Z" → "2024-05-06 07:08:09.123"
			return strings.TrimSuffix(strings.Replace(x, "T", " ", 1), "Z"), nil
		}
		return x, nil
	case []byte:
		return x, nil
	case nil:
		return nil, fmt.Errorf("column %s: NULL in a key", c.Name)
	}
	return nil, fmt.Errorf("column %s: cannot paginate by a %T value", c.Name, v)
}

func formatDateTime(us int64, fsp int) string {
	days := floorDiv(us, secondsPerDay*microsPerSecond)
	rem := us - days*secondsPerDay*microsPerSecond
	y, m, d := civilFromDays(days)
	sec := rem / microsPerSecond
	s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", y, m, d, sec/3600, sec/60%60, sec%60)
	if fsp > 0 {
		s += fmt.Sprintf(".%06d", rem%microsPerSecond)[:fsp+1]
	}
	return s
}

func formatTime(us int64, fsp int) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	sec := us / microsPerSecond
	s := fmt.Sprintf("%s%02d:%02d:%02d", sign, sec/3600, sec/60%60, sec%60)
	if fsp > 0 {
		s += fmt.Sprintf(".%06d", us%microsPerSecond)[:fsp+1]
	}
	return s
}
