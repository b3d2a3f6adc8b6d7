package serde

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// JSON renders the record as one JSON object for `tidemark tail`:
//
//	{"key":{...}|null,"value":{...}|null,"key_schema_id":N,"value_schema_id":M}
//
// Records keep their schema's field order (before, after, source, …), map
// keys are sorted, decimals are exact strings ("-12.340"), bytes are
// standard base64, and NaN/±Inf floats are the strings "NaN", "Infinity",
// "-Infinity". The same record always renders to the same bytes. Schema ids
// are omitted when 0 (null key, tombstone).
func (r *Record) JSON() ([]byte, error) {
	b := []byte(`{"key":`)
	if r.Key == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONValue(b, r.keyPlan, r.Key)
	}
	b = append(b, `,"value":`...)
	if r.Value == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONValue(b, r.valuePlan, r.Value)
	}
	if r.KeySchemaID != 0 {
		b = append(b, `,"key_schema_id":`...)
		b = strconv.AppendInt(b, int64(r.KeySchemaID), 10)
	}
	if r.ValueSchemaID != 0 {
		b = append(b, `,"value_schema_id":`...)
		b = strconv.AppendInt(b, int64(r.ValueSchemaID), 10)
	}
	return append(b, '}'), nil
}

// AppendValueJSON appends v, a value the Decoder returned (a record's Key,
// Value or a field of them), as canonical JSON: the rules of JSON above,
// with every map's keys sorted (no schema is at hand for field order), so
// equal values always render to the same bytes and can be compared or
// hashed as bytes.
func AppendValueJSON(b []byte, v any) []byte { return appendJSONValue(b, nil, v) }

// appendJSONValue writes v, using node n (may be nil) for record field
// order and union branches.
func appendJSONValue(b []byte, n *readNode, v any) []byte {
	if n != nil && n.kind == rUnion {
		n = unionBranchFor(n, v)
	}
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
		return appendJSONFloat(b, float64(x), 32)
	case float64:
		return appendJSONFloat(b, x, 64)
	case string:
		return appendJSONString(b, x)
	case []byte:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case Decimal:
		return appendJSONString(b, x.String())
	case []any:
		var items *readNode
		if n != nil && n.kind == rArray {
			items = n.items
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONValue(b, items, e)
		}
		return append(b, ']')
	case map[string]any:
		b = append(b, '{')
		if n != nil && n.kind == rRecord {
			for i, f := range n.fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, f.name)
				b = append(b, ':')
				b = appendJSONValue(b, f.node, x[f.name])
			}
			return append(b, '}')
		}
		var values *readNode
		if n != nil && n.kind == rMap {
			values = n.items
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONValue(b, values, x[k])
		}
		return append(b, '}')
	}
	// Not a decoder value: fall back to encoding/json.
	j, err := json.Marshal(v)
	if err != nil {
		return appendJSONString(b, err.Error())
	}
	return append(b, j...)
}

// unionBranchFor picks the union branch a decoded value came from by its Go
// type (Debezium's unions are [null,T] or [T,null], so this is exact there).
func unionBranchFor(n *readNode, v any) *readNode {
	for _, br := range n.branches {
		if branchHolds(br, v) {
			return br
		}
	}
	return nil
}

func branchHolds(n *readNode, v any) bool {
	switch v.(type) {
	case nil:
		return n.kind == rNull
	case bool:
		return n.kind == rBool
	case int32:
		return n.kind == rInt
	case int64:
		return n.kind == rLong
	case float32:
		return n.kind == rFloat
	case float64:
		return n.kind == rDouble
	case string:
		return n.kind == rString || n.kind == rEnum
	case []byte:
		return n.kind == rBytes || n.kind == rFixed
	case Decimal:
		return n.kind == rDecimal || n.kind == rFixedDecimal
	case []any:
		return n.kind == rArray
	case map[string]any:
		if n.kind == rMap {
			return true
		}
		if n.kind != rRecord || len(n.fields) != len(v.(map[string]any)) {
			return false
		}
		for _, f := range n.fields {
			if _, ok := v.(map[string]any)[f.name]; !ok {
				return false
			}
		}
		return true
	}
	return false
}

func appendJSONFloat(b []byte, f float64, bits int) []byte {
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

// appendJSONString quotes s as JSON (invalid UTF-8 becomes U+FFFD, as
// encoding/json does; no HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xF])
		case r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		case r == utf8.RuneError && w == 1:
			b = append(b, "\ufffd"...)
		default:
			b = append(b, s[i:i+w]...)
		}
		i += w
	}
	return append(b, '"')
}
