package daemon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// canonJSON renders a decoded Avro value as canonical JSON (serde's, as
// `tidemark tail` prints values, with map keys sorted). Both sides of a
// comparison (the table's rows, encoded and decoded like the daemon's
// records, and the topic's records) go through it.
func canonJSON(b []byte, v any) []byte { return serde.AppendValueJSON(b, v) }

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
