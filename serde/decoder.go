package serde

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
)

// Decoder turns Kafka records written by Tidemark (or by Debezium with
// Confluent's AvroConverter) back into records. It fetches each writer
// schema once from the registry and compiles it; it is safe for concurrent
// use.
type Decoder struct {
	reg  Registry
	opts DecoderOptions

	mu    sync.RWMutex
	plans map[int]*readNode

	objects objectStores // the stores claim-check pointers name, opened on first use
}

// Record is one decoded Kafka record.
type Record struct {
	KeySchemaID   int            // 0 for a null key
	ValueSchemaID int            // 0 for a tombstone
	Key           map[string]any // nil for a null key (table without primary key)
	Tombstone     bool           // the value is null: a delete's tombstone
	// Value is the whole decoded value; for a Debezium envelope the fields
	// below are its parts.
	Value map[string]any

	Op                                 string // c, u, d, r ("" for a tombstone)
	Before, After, Source, Transaction map[string]any
	TsMs                               int64 // envelope ts_ms: processing time (0 when null)
	// ClaimCheck is how DecodeRecord found the value: "" (plain),
	// ClaimCompressed or ClaimOffloaded.
	ClaimCheck string

	keyPlan, valuePlan *readNode // for JSON's field order
}

// NewDecoder returns a decoder reading schemas from reg. It does no I/O.
func NewDecoder(reg Registry, opts DecoderOptions) *Decoder {
	return &Decoder{reg: reg, opts: opts, plans: make(map[int]*readNode)}
}

// Decode decodes one Kafka record. A nil (or empty) key is a null key; a
// nil (or empty) value is a tombstone. Values are nil, bool, int32, int64,
// float32, float64, string, []byte, Decimal, map[string]any and []any.
//
// Errors: a *FramingError (ErrNotFramed) for data that is not
// Confluent-framed, ErrSchemaNotFound for an unknown id, ErrMalformed for a
// body that does not match its schema, registry errors (*RegistryError, ErrRegistryUnavailable).
func (d *Decoder) Decode(ctx context.Context, key, value []byte) (*Record, error) {
	rec := &Record{}
	if len(key) > 0 {
		id, m, n, err := d.decodeRecord(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("decode key: %w", err)
		}
		rec.KeySchemaID, rec.Key, rec.keyPlan = id, m, n
	}
	if len(value) == 0 {
		rec.Tombstone = true
		return rec, nil
	}
	id, m, n, err := d.decodeRecord(ctx, value)
	if err != nil {
		return nil, fmt.Errorf("decode value: %w", err)
	}
	rec.ValueSchemaID, rec.Value, rec.valuePlan = id, m, n
	rec.Op, _ = m["op"].(string)
	rec.Before, _ = m["before"].(map[string]any)
	rec.After, _ = m["after"].(map[string]any)
	rec.Source, _ = m["source"].(map[string]any)
	rec.Transaction, _ = m["transaction"].(map[string]any)
	rec.TsMs, _ = m["ts_ms"].(int64)
	return rec, nil
}

func (d *Decoder) decodeRecord(ctx context.Context, data []byte) (int, map[string]any, *readNode, error) {
	id, body, err := ParseFrame(data)
	if err != nil {
		return 0, nil, nil, err
	}
	n, err := d.plan(ctx, id)
	if err != nil {
		return id, nil, nil, err
	}
	if n.kind != rRecord {
		return id, nil, nil, fmt.Errorf("schema id %d is not a record schema", id)
	}
	r := avroReader{b: body}
	v := r.read(n, 0, !d.opts.NoCopy)
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return id, nil, nil, fmt.Errorf("schema id %d: %w", id, r.err)
	}
	return id, v.(map[string]any), n, nil
}

// plan returns the compiled read plan of schema id, fetching and compiling
// it on first use.
func (d *Decoder) plan(ctx context.Context, id int) (*readNode, error) {
	d.mu.RLock()
	n, ok := d.plans[id]
	d.mu.RUnlock()
	if ok {
		return n, nil
	}
	text, err := d.reg.Schema(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	n, err = compileSchemaText(text)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	d.mu.Lock()
	d.plans[id] = n
	d.mu.Unlock()
	return n, nil
}

// compileSchemaText parses with a private name cache: hamba's default
// cache is global, and two versions of one table define the same names.
func compileSchemaText(text string) (*readNode, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse writer schema: %w", err)
	}
	n, err := compileReadPlan(s)
	if err != nil {
		return nil, errors.Join(errors.New("compile writer schema"), err)
	}
	return n, nil
}
