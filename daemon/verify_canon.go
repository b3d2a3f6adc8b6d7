package daemon

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"

	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// canonJSON renders a decoded Avro value (serde.Decoder's types) as JSON
// that is the same bytes for equal values: map keys sorted, bytes in
// base64, decimals as exact strings, non-finite floats as strings. Both
// sides of a comparison (the table's rows, encoded and decoded like the
// daemon's records, and the topic's records) go through it.
func canonJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float32:
		return appendFloat(b, float64(x), 32)
	case float64:
		return appendFloat(b, x, 64)
	case string:
		q, _ := json.Marshal(x)
		return append(b, q...)
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case serde.Decimal:
		return strconv.AppendQuote(b, x.String())
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = canonJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			q, _ := json.Marshal(k)
			b = append(b, q...)
			b = append(b, ':')
			b = canonJSON(b, x[k])
		}
		return append(b, '}')
	}
	return fmt.Appendf(b, "%q", fmt.Sprintf("%T:%v", v, v))
}

func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// rowDigest is a row's fields as hashes, sorted by name hash: 4 bytes of
// the field name's hash, 8 of its value's. Fields are compared one by one,
// so a record written before a column was added (it lacks the field) still
// matches on the columns it has.
type rowDigest []byte

const digestField = 12

func digestOf(row map[string]any) rowDigest {
	d := make(rowDigest, 0, len(row)*digestField)
	var buf []byte
	for name, v := range row {
		h := fnv.New32a()
		h.Write([]byte(name))
		buf = canonJSON(buf[:0], v)
		vh := fnv.New64a()
		vh.Write(buf)
		d = binary.BigEndian.AppendUint32(d, h.Sum32())
		d = binary.BigEndian.AppendUint64(d, vh.Sum64())
	}
	// sort the 12-byte entries by name hash
	n := len(d) / digestField
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return bytes.Compare(d[a*digestField:a*digestField+4], d[b*digestField:b*digestField+4])
	})
	out := make(rowDigest, 0, len(d))
	for _, i := range idx {
		out = append(out, d[i*digestField:(i+1)*digestField]...)
	}
	return out
}

// digestsMatch compares the table's row (m) with the topic's record (k):
// every field both have must be equal. added reports fields the record
// lacks (columns added since it was written), which are not compared;
// fields only the record has (dropped columns) are ignored.
func digestsMatch(m, k rowDigest) (equal, added bool) {
	i, j := 0, 0
	for i < len(m) {
		if j >= len(k) {
			return true, true
		}
		switch c := bytes.Compare(m[i:i+4], k[j:j+4]); {
		case c == 0:
			if !bytes.Equal(m[i+4:i+digestField], k[j+4:j+digestField]) {
				return false, added
			}
			i, j = i+digestField, j+digestField
		case c < 0:
			added = true
			i += digestField
		default:
			j += digestField
		}
	}
	return true, added
}

// sqlKey turns a topic's decoded key into the query parameters of table t's
// primary key, so that a key only the topic has can be looked up on every
// shard. Fields that are not key columns (encoding.key_shard_field) are
// ignored.
func sqlKey(t *schema.Table, key map[string]any) (snapshot.Key, error) {
	k := make(snapshot.Key, len(t.PrimaryKey))
	for j, i := range t.PrimaryKey {
		c := &t.Columns[i]
		v, ok := key[schema.AvroFieldName(c.Name)]
		if !ok {
			return nil, fmt.Errorf("key has no field for column %s", c.Name)
		}
		var p any
		var err error
		switch x := v.(type) {
		case serde.Decimal:
			p = x.String()
		case int64:
			if c.Unsigned && c.Type == schema.TypeBigInt && x < 0 { // BIGINT UNSIGNED as a long
				p = strconv.FormatUint(uint64(x), 10)
			} else {
				p, err = mysql.KeyParam(c, x)
			}
		default:
			p, err = mysql.KeyParam(c, x)
		}
		if err != nil {
			return nil, err
		}
		switch s := p.(type) {
		case string:
			if c.Type == schema.TypeBinary || c.Type == schema.TypeBlob {
				k[j] = snapshot.KeyValue{B: []byte(s)}
			} else {
				k[j] = snapshot.KeyValue{S: &s}
			}
		case []byte:
			k[j] = snapshot.KeyValue{B: s}
		}
	}
	return k, nil
}
