package serde

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// The decoder compiles each writer schema (parsed by hamba/avro) once into
// a tree of readNodes and walks the Avro binary with it. It handles any Avro
// schema, not only Tidemark's, so that `tidemark tail` reads Debezium's own
// topics too. Hostile input cannot make it allocate beyond the input's size
// or recurse without bound.

type readKind uint8

const (
	rNull readKind = iota + 1
	rBool
	rInt
	rLong
	rFloat
	rDouble
	rBytes
	rString
	rDecimal      // bytes with logicalType decimal
	rFixed        // fixed
	rFixedDecimal // fixed with logicalType decimal
	rEnum
	rArray
	rMap
	rUnion
	rRecord
)

type readNode struct {
	kind     readKind
	scale    int      // rDecimal, rFixedDecimal
	size     int      // rFixed, rFixedDecimal
	symbols  []string // rEnum
	fields   []readField
	items    *readNode   // rArray, rMap values
	branches []*readNode // rUnion
	name     string      // full name of named types
	empty    bool        // a value may take zero bytes (null, empty record)
}

type readField struct {
	name string
	node *readNode
}

// maxReadDepth bounds nesting (Debezium's envelopes are 4 deep); a
// recursive schema with hostile data cannot exhaust the stack.
const maxReadDepth = 64

// compileReadPlan turns a parsed schema into a read tree. Named types are
// compiled once, so recursive schemas terminate.
func compileReadPlan(s avro.Schema) (*readNode, error) {
	return compileNode(s, map[string]*readNode{})
}

func compileNode(s avro.Schema, named map[string]*readNode) (*readNode, error) {
	switch s := s.(type) {
	case *avro.NullSchema:
		return &readNode{kind: rNull, empty: true}, nil
	case *avro.PrimitiveSchema:
		n := &readNode{}
		switch s.Type() {
		case avro.Boolean:
			n.kind = rBool
		case avro.Int:
			n.kind = rInt
		case avro.Long:
			n.kind = rLong
		case avro.Float:
			n.kind = rFloat
		case avro.Double:
			n.kind = rDouble
		case avro.String:
			n.kind = rString
		case avro.Bytes:
			n.kind = rBytes
			if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
				n.kind, n.scale = rDecimal, d.Scale()
			}
		case avro.Null:
			n.kind, n.empty = rNull, true
		default:
			return nil, fmt.Errorf("unsupported primitive type %s", s.Type())
		}
		return n, nil
	case *avro.RefSchema:
		return compileNode(s.Schema(), named)
	case *avro.RecordSchema:
		if n, ok := named[s.FullName()]; ok {
			return n, nil
		}
		n := &readNode{kind: rRecord, name: s.FullName()}
		named[s.FullName()] = n
		empty := true
		for _, f := range s.Fields() {
			fn, err := compileNode(f.Type(), named)
			if err != nil {
				return nil, fmt.Errorf("field %s.%s: %w", s.FullName(), f.Name(), err)
			}
			n.fields = append(n.fields, readField{name: f.Name(), node: fn})
			empty = empty && fn.empty
		}
		n.empty = empty
		return n, nil
	case *avro.EnumSchema:
		if n, ok := named[s.FullName()]; ok {
			return n, nil
		}
		n := &readNode{kind: rEnum, name: s.FullName(), symbols: s.Symbols()}
		named[s.FullName()] = n
		return n, nil
	case *avro.FixedSchema:
		if n, ok := named[s.FullName()]; ok {
			return n, nil
		}
		n := &readNode{kind: rFixed, name: s.FullName(), size: s.Size(), empty: s.Size() == 0}
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			n.kind, n.scale = rFixedDecimal, d.Scale()
		}
		named[s.FullName()] = n
		return n, nil
	case *avro.ArraySchema:
		items, err := compileNode(s.Items(), named)
		if err != nil {
			return nil, err
		}
		return &readNode{kind: rArray, items: items}, nil
	case *avro.MapSchema:
		values, err := compileNode(s.Values(), named)
		if err != nil {
			return nil, err
		}
		return &readNode{kind: rMap, items: values}, nil
	case *avro.UnionSchema:
		n := &readNode{kind: rUnion}
		for _, t := range s.Types() {
			b, err := compileNode(t, named)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, b)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported schema %T", s)
}

// read decodes one value of node n. Values: nil, bool, int32, int64,
// float32, float64, []byte, string, Decimal, map[string]any (records and
// maps), []any (arrays); enums as their symbol string.
func (r *avroReader) read(n *readNode, depth int, copyBytes bool) any {
	if depth > maxReadDepth {
		r.fail("nesting deeper than %d", maxReadDepth)
		return nil
	}
	if r.err != nil {
		return nil
	}
	switch n.kind {
	case rNull:
		return nil
	case rBool:
		return r.readBool()
	case rInt:
		return r.readInt()
	case rLong:
		return r.readLong()
	case rFloat:
		return r.readFloat()
	case rDouble:
		return r.readDouble()
	case rString:
		return r.readString()
	case rBytes:
		return cloneIf(r.readBytes(), copyBytes)
	case rDecimal:
		b := r.readBytes()
		if r.err != nil {
			return nil
		}
		return decimalFromBytes(b, n.scale)
	case rFixed:
		return cloneIf(r.readFixed(n.size), copyBytes)
	case rFixedDecimal:
		b := r.readFixed(n.size)
		if r.err != nil {
			return nil
		}
		return decimalFromBytes(b, n.scale)
	case rEnum:
		i := r.readLong()
		if r.err == nil && (i < 0 || i >= int64(len(n.symbols))) {
			r.fail("enum %s index %d out of range", n.name, i)
		}
		if r.err != nil {
			return nil
		}
		return n.symbols[i]
	case rUnion:
		i := r.readLong()
		if r.err == nil && (i < 0 || i >= int64(len(n.branches))) {
			r.fail("union index %d out of range (%d branches)", i, len(n.branches))
		}
		if r.err != nil {
			return nil
		}
		return r.read(n.branches[i], depth+1, copyBytes)
	case rRecord:
		m := make(map[string]any, len(n.fields))
		for i := range n.fields {
			m[n.fields[i].name] = r.read(n.fields[i].node, depth+1, copyBytes)
			if r.err != nil {
				return nil
			}
		}
		return m
	case rArray:
		var out []any
		r.readBlocks(n, func() {
			out = append(out, r.read(n.items, depth+1, copyBytes))
		})
		if r.err != nil {
			return nil
		}
		if out == nil {
			out = []any{}
		}
		return out
	case rMap:
		out := map[string]any{}
		r.readBlocks(n, func() {
			k := r.readString()
			out[k] = r.read(n.items, depth+1, copyBytes)
		})
		if r.err != nil {
			return nil
		}
		return out
	}
	r.fail("unknown node kind %d", n.kind)
	return nil
}

// readBlocks reads the blocks of an array or map, calling item per element.
// A block count can claim more items than the data holds. Items that take
// at least one byte are bounded by the bytes left; items that can take none
// (null, an empty record) are capped outright, so a hostile count neither
// allocates nor loops for long.
func (r *avroReader) readBlocks(n *readNode, item func()) {
	const maxEmptyItems = 1 << 16
	total := int64(0)
	for r.err == nil {
		count := r.readLong()
		if r.err != nil || count == 0 {
			return
		}
		if count < 0 { // negative count: a byte size follows
			count = -count
			if size := r.readLong(); size < 0 || size > int64(len(r.b)) {
				r.fail("block size %d beyond the %d bytes left", size, len(r.b))
				return
			}
		}
		total += count
		switch {
		case count < 0 || total < 0:
			r.fail("block count overflow")
			return
		case n.kind == rArray && n.items.empty:
			if total > maxEmptyItems {
				r.fail("array of %d zero-width items", total)
				return
			}
		case count > int64(len(r.b)):
			r.fail("block of %d items beyond the %d bytes left", count, len(r.b))
			return
		}
		for ; count > 0 && r.err == nil; count-- {
			item()
		}
	}
}

func cloneIf(b []byte, copyBytes bool) []byte {
	if b == nil {
		return nil
	}
	if !copyBytes {
		return b
	}
	return append(make([]byte, 0, len(b)), b...)
}
