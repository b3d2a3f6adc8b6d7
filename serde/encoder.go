package serde

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Encoder turns change.Events into Kafka messages. It is safe for concurrent
// use; pipelines may share one.
//
// Schemas are registered once per (topic, table shape). The lookup on the
// hot path is by *schema.Table pointer (the binlog reader keeps the pointer
// while a table's shape is unchanged); a new pointer falls back to a cache
// keyed by the generated schema text, so the same shape arriving from
// another shard, or after a reconnect, is not registered again. A changed
// table (ALTER TABLE) generates different text and gets a new registered
// version and id. A *schema.Table must therefore not be modified once an
// event carrying it has been encoded: a new shape needs a new Table.
type Encoder struct {
	reg     Registry
	opts    Options
	version string
	runID   []byte // __debezium.context.runId, with Options.ContextHeaders

	byPtr   sync.Map // *schema.Table → *ptrPlans
	ptrSize atomic.Int64

	mu      sync.Mutex
	byShape map[[sha256.Size]byte]*plan // hash of topic, schemas and ops → plan

	scratch sync.Pool // *[]byte
}

// ptrPlans are the plans of one table pointer, one per topic (usually one).
// Immutable once stored; replaced whole when a topic is added.
type ptrPlans struct{ plans []*plan }

// maxPtrEntries bounds the pointer cache: every ALTER TABLE leaves an old
// pointer behind. Past the bound the cache is dropped and refilled from the
// shape cache, which costs a schema generation per table, no registration.
const maxPtrEntries = 1 << 16

// maxPooledScratch keeps huge records' buffers out of the pool, so one 50 MB
// row does not pin 50 MB per pool slot.
const maxPooledScratch = 1 << 20

// NewEncoder returns an encoder registering schemas in reg. It does no I/O.
func NewEncoder(reg Registry, opts Options) (*Encoder, error) {
	if reg == nil {
		return nil, errors.New("serde: NewEncoder: nil registry")
	}
	if opts.KeyShardField != "" && schema.AvroFieldName(opts.KeyShardField) != opts.KeyShardField {
		return nil, fmt.Errorf("serde: key shard field %q is not a valid Avro field name", opts.KeyShardField)
	}
	e := &Encoder{reg: reg, opts: opts, version: opts.Version, byShape: make(map[[sha256.Size]byte]*plan)}
	if e.version == "" {
		e.version = "tidemark"
	}
	e.scratch.New = func() any { b := make([]byte, 0, 4096); return &b }
	if opts.ContextHeaders {
		id, err := uuid.NewV7() // Debezium's run ids are version 7 too
		if err != nil {
			return nil, fmt.Errorf("serde: run id: %w", err)
		}
		e.runID = []byte(id.String())
	}
	return e, nil
}

// Messages appends the Kafka messages that ev becomes on topic, in order:
//
//   - c, r, u: one envelope (key = primary key of the after image);
//   - d: the envelope, then a tombstone (unless Options.NoTombstones);
//   - u that changes the primary key: d for the old key with header
//     __debezium.newkey = the new key, a tombstone for the old key (same
//     header, unless NoTombstones), then c for the new key with header
//     __debezium.oldkey = the old key (Debezium's RelationalChangeRecordEmitter);
//   - OpCheckpoint: nothing.
//
// now is the processing time written to the envelope's ts_ms/ts_us/ts_ns.
// The first event of a table shape registers its schemas (network I/O,
// bounded by ctx); later events do none. On error dst is returned unchanged.
func (e *Encoder) Messages(ctx context.Context, dst []Message, topic string, ev *change.Event, now time.Time) ([]Message, error) {
	n := len(dst)
	out, err := e.messages(ctx, dst, topic, ev, now)
	if err == nil && e.opts.ContextHeaders {
		e.addContextHeaders(out[n:], &ev.Source)
	}
	if err != nil {
		// The plan may be shared by every shard's copy of the table: name the
		// shard and physical table this event came from.
		var ve *ValueError
		if errors.As(err, &ve) && ev.Table != nil {
			ve.Shard, ve.Table = ev.Source.Shard, ev.Table.QualifiedName()
		}
		return dst, err
	}
	return out, nil
}

func (e *Encoder) messages(ctx context.Context, dst []Message, topic string, ev *change.Event, now time.Time) ([]Message, error) {
	switch ev.Op {
	case change.OpCheckpoint:
		return dst, nil
	case change.OpCreate, change.OpRead, change.OpUpdate, change.OpDelete:
	default:
		return dst, fmt.Errorf("serde: topic %s: %w: unknown op %q", topic, ErrBadValue, ev.Op)
	}
	if ev.Table == nil {
		return dst, fmt.Errorf("serde: topic %s: %w: %s event without table", topic, ErrBadValue, ev.Op)
	}
	p, err := e.planFor(ctx, topic, ev.Table)
	if err != nil {
		return dst, err
	}

	sp := e.scratch.Get().(*[]byte)
	buf := (*sp)[:0]
	defer func() {
		if cap(buf) <= maxPooledScratch {
			*sp = buf[:0]
			e.scratch.Put(sp)
		}
	}()

	src := &ev.Source
	// Segment ends within buf: the messages are sliced out of one copy.
	var keyEnd, valEnd, key2End, val2End int
	switch ev.Op {
	case change.OpCreate, change.OpRead:
		if ev.After == nil {
			return dst, e.missingImage(p, ev, "after")
		}
		if buf, err = e.appendKey(buf, p, ev.Table, ev.After, src); err != nil {
			return dst, err
		}
		keyEnd = len(buf)
		if buf, err = e.appendEnvelope(buf, p, ev.Table, ev.Op, nil, ev.After, src, now); err != nil {
			return dst, err
		}
		valEnd = len(buf)
		out := e.detach(buf)
		return append(dst, Message{Key: keyOf(p, out[:keyEnd:keyEnd]), Value: out[keyEnd:valEnd:valEnd]}), nil

	case change.OpDelete:
		if ev.Before == nil {
			return dst, e.missingImage(p, ev, "before")
		}
		if buf, err = e.appendKey(buf, p, ev.Table, ev.Before, src); err != nil {
			return dst, err
		}
		keyEnd = len(buf)
		if buf, err = e.appendEnvelope(buf, p, ev.Table, ev.Op, ev.Before, nil, src, now); err != nil {
			return dst, err
		}
		valEnd = len(buf)
		out := e.detach(buf)
		k := keyOf(p, out[:keyEnd:keyEnd])
		dst = append(dst, Message{Key: k, Value: out[keyEnd:valEnd:valEnd]})
		if !e.opts.NoTombstones {
			dst = append(dst, Message{Key: k})
		}
		return dst, nil
	}

	// Update.
	if ev.Before == nil || ev.After == nil {
		img := "before"
		if ev.After == nil {
			img = "after"
		}
		return dst, e.missingImage(p, ev, img)
	}
	if buf, err = e.appendKey(buf, p, ev.Table, ev.After, src); err != nil {
		return dst, err
	}
	keyEnd = len(buf)
	if p.keyID != 0 {
		if buf, err = e.appendKey(buf, p, ev.Table, ev.Before, src); err != nil {
			return dst, err
		}
		key2End = len(buf)
		if !bytes.Equal(buf[:keyEnd], buf[keyEnd:key2End]) {
			return e.keyChange(dst, buf, p, ev, keyEnd, key2End, now)
		}
		buf = buf[:keyEnd] // same key: drop the old key's copy
	}
	if buf, err = e.appendEnvelope(buf, p, ev.Table, ev.Op, ev.Before, ev.After, src, now); err != nil {
		return dst, err
	}
	val2End = len(buf)
	out := e.detach(buf)
	return append(dst, Message{Key: keyOf(p, out[:keyEnd:keyEnd]), Value: out[keyEnd:val2End:val2End]}), nil
}

// addContextHeaders appends Debezium's four context headers to msgs.
func (e *Encoder) addContextHeaders(msgs []Message, src *change.Source) {
	connector := src.Connector
	if connector == "" {
		connector = "mysql"
	}
	for i := range msgs {
		m := &msgs[i]
		h := make([]Header, len(m.Headers), len(m.Headers)+4)
		copy(h, m.Headers)
		m.Headers = append(h,
			Header{Key: HeaderConnectorLogicalName, Value: []byte(src.Shard)},
			Header{Key: HeaderTaskID, Value: []byte("0")},
			Header{Key: HeaderConnectorName, Value: []byte(connector)},
			Header{Key: HeaderRunID, Value: e.runID})
	}
}

// keyChange emits an update that moved the row to another primary key as
// delete + tombstone + create. buf holds [new key][old key].
func (e *Encoder) keyChange(dst []Message, buf []byte, p *plan, ev *change.Event, newEnd, oldEnd int, now time.Time) ([]Message, error) {
	var err error
	src := &ev.Source
	if buf, err = e.appendEnvelope(buf, p, ev.Table, change.OpDelete, ev.Before, nil, src, now); err != nil {
		return dst, err
	}
	delEnd := len(buf)
	if buf, err = e.appendEnvelope(buf, p, ev.Table, change.OpCreate, nil, ev.After, src, now); err != nil {
		return dst, err
	}
	creEnd := len(buf)
	buf = e.appendConnectKey(buf, p, ev.Table, ev.After, src)
	newTextEnd := len(buf)
	buf = e.appendConnectKey(buf, p, ev.Table, ev.Before, src)
	oldTextEnd := len(buf)
	out := e.detach(buf)
	newKey, oldKey := out[:newEnd:newEnd], out[newEnd:oldEnd:oldEnd]
	newText, oldText := out[creEnd:newTextEnd:newTextEnd], out[newTextEnd:oldTextEnd:oldTextEnd]
	h := make([]Header, 3)
	h[0] = Header{Key: HeaderNewKey, Value: newText}
	h[1] = Header{Key: HeaderNewKey, Value: newText}
	h[2] = Header{Key: HeaderOldKey, Value: oldText}
	dst = append(dst, Message{Key: oldKey, Value: out[oldEnd:delEnd:delEnd], Headers: h[0:1:1]})
	if !e.opts.NoTombstones {
		dst = append(dst, Message{Key: oldKey, Headers: h[1:2:2]}) // Debezium copies the headers onto the tombstone
	}
	return append(dst, Message{Key: newKey, Value: out[delEnd:creEnd:creEnd], Headers: h[2:3:3]}), nil
}

func (e *Encoder) missingImage(p *plan, ev *change.Event, img string) error {
	return fmt.Errorf("serde: topic %s table %s: %w: %s event without %s image", p.topic, p.table, ErrBadValue, ev.Op, img)
}

// detach copies the encoded bytes out of the pooled scratch buffer into one
// allocation that the messages own.
func (e *Encoder) detach(buf []byte) []byte {
	out := make([]byte, len(buf))
	copy(out, buf)
	return out
}

// keyOf returns the key bytes, or nil for a table without primary key.
func keyOf(p *plan, k []byte) []byte {
	if p.keyID == 0 {
		return nil
	}
	return k
}

// appendKey writes the framed key of row; nothing for a table without
// primary key.
func (e *Encoder) appendKey(b []byte, p *plan, t *schema.Table, row change.Row, src *change.Source) ([]byte, error) {
	if p.keyID == 0 {
		return b, nil
	}
	b = AppendFrameHeader(b, p.keyID)
	b, err := p.appendKeyFields(b, row)
	if err != nil {
		return b, err
	}
	if p.shardField {
		if e.opts.KeyShardValue != nil {
			b = appendString(b, e.opts.KeyShardValue(src))
		} else {
			// "<shard>.<db>.<table>" written in pieces: no string to allocate.
			db, tbl := sourceNames(t, src)
			b = appendLong(b, int64(len(src.Shard)+1+len(db)+1+len(tbl)))
			b = append(b, src.Shard...)
			b = append(b, '.')
			b = append(b, db...)
			b = append(b, '.')
			b = append(b, tbl...)
		}
	}
	return b, nil
}

// appendEnvelope writes the framed Envelope: before, after, source,
// transaction (null), op, ts_ms, ts_us, ts_ns.
func (e *Encoder) appendEnvelope(b []byte, p *plan, t *schema.Table, op change.Op, before, after change.Row, src *change.Source, now time.Time) ([]byte, error) {
	var err error
	b = AppendFrameHeader(b, p.valueID)
	for _, row := range [2]change.Row{before, after} {
		if row == nil {
			b = append(b, unionFirst)
			continue
		}
		b = append(b, unionSecond)
		if b, err = p.appendRow(b, row); err != nil {
			return b, err
		}
	}
	b = e.appendSource(b, t, src)
	b = append(b, unionFirst)  // transaction: null (provide.transaction.metadata=false)
	b = append(b, 2, byte(op)) // op: a one-character string
	b = append(b, unionSecond) // ts_ms
	b = appendLong(b, now.UnixMilli())
	b = append(b, unionSecond) // ts_us
	b = appendLong(b, now.UnixMicro())
	b = append(b, unionSecond) // ts_ns
	return appendLong(b, now.UnixNano()), nil
}

// appendSource writes Debezium's MySQL source block (schema.sourceSchema).
func (e *Encoder) appendSource(b []byte, t *schema.Table, src *change.Source) []byte {
	b = appendString(b, e.version)
	if src.Connector != "" {
		b = appendString(b, src.Connector)
	} else {
		b = appendString(b, "mysql")
	}
	b = appendString(b, src.Shard)
	b = appendLong(b, src.TsMs)
	b = append(b, unionFirst) // snapshot: [string, null], the string branch
	if src.Snapshot != "" {
		b = appendString(b, src.Snapshot)
	} else {
		b = appendString(b, "false") // streaming: the schema default
	}
	db, tbl := sourceNames(t, src)
	b = appendString(b, db)
	b = append(b, unionFirst) // sequence: null for MySQL
	b = append(b, unionSecond)
	b = appendLong(b, mulSat(src.TsMs, 1_000)) // ts_us
	b = append(b, unionSecond)
	b = appendLong(b, mulSat(src.TsMs, 1_000_000)) // ts_ns
	b = append(b, unionSecond)
	b = appendString(b, tbl)
	b = appendLong(b, int64(src.ServerID))
	if src.GTID == "" {
		b = append(b, unionFirst)
	} else {
		b = append(b, unionSecond)
		b = appendString(b, src.GTID)
	}
	b = appendString(b, src.File)
	b = appendLong(b, int64(src.Pos))
	b = appendLong(b, int64(src.Row))
	if src.Thread < 0 {
		b = append(b, unionFirst)
	} else {
		b = append(b, unionSecond)
		b = appendLong(b, src.Thread)
	}
	return append(b, unionFirst) // query: null (include.query=false)
}

// sourceNames are source.db and source.table: the reader's, or the event
// table's when the reader left them empty.
func sourceNames(t *schema.Table, src *change.Source) (db, table string) {
	db, table = src.Database, src.Table
	if db == "" {
		db = t.Database
	}
	if table == "" {
		table = t.Name
	}
	return db, table
}

// mulSat multiplies without wrapping (a garbage ts_ms must not turn into a
// plausible negative time).
func mulSat(v, m int64) int64 {
	if v > math.MaxInt64/m {
		return math.MaxInt64
	}
	if v < math.MinInt64/m {
		return math.MinInt64
	}
	return v * m
}

// planFor returns the plan of (topic, table), registering its schemas the
// first time the shape is seen.
func (e *Encoder) planFor(ctx context.Context, topic string, t *schema.Table) (*plan, error) {
	if v, ok := e.byPtr.Load(t); ok {
		for _, p := range v.(*ptrPlans).plans {
			if p.topic == topic {
				return p, nil
			}
		}
	}
	p, err := e.shapePlan(ctx, topic, t)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var plans []*plan
	if v, ok := e.byPtr.Load(t); ok {
		plans = v.(*ptrPlans).plans
	} else if e.ptrSize.Add(1) > maxPtrEntries {
		e.byPtr.Clear()
		e.ptrSize.Store(1)
	}
	e.byPtr.Store(t, &ptrPlans{plans: append(plans[:len(plans):len(plans)], p)})
	return p, nil
}

// shapePlan generates the schemas of (topic, t) and returns the plan of that
// shape, registering and compiling it if it is new.
func (e *Encoder) shapePlan(ctx context.Context, topic string, t *schema.Table) (*plan, error) {
	avroCols, err := schema.AvroColumns(t, e.opts.avro())
	if err != nil {
		return nil, fmt.Errorf("serde: topic %s: %w", topic, err)
	}
	schemas, err := schema.AvroSchemasFor(topic, t, e.opts.avro())
	if err != nil {
		return nil, fmt.Errorf("serde: topic %s: %w", topic, err)
	}
	cols := compileColumns(t, avroCols, e.opts)
	// Keyed by a hash: schema texts of wide tables are tens of kB, and a
	// fleet has thousands of table versions.
	h := sha256.New()
	for _, part := range []string{topic, schemas.Key, schemas.Value, opsSignature(cols)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var shapeKey [sha256.Size]byte
	h.Sum(shapeKey[:0])

	e.mu.Lock()
	p := e.byShape[shapeKey]
	e.mu.Unlock()
	if p != nil {
		return p, nil
	}

	// Register outside the lock: a slow registry must not stall other
	// tables. Registration is idempotent, so a concurrent first use of the
	// same shape only costs a duplicate request.
	p = &plan{topic: topic, table: t.QualifiedName(), cols: cols, key: append([]int(nil), t.PrimaryKey...)}
	for _, i := range p.key {
		p.keyNames = append(p.keyNames, avroCols[i].Field)
	}
	if schemas.Key != "" {
		if p.keyID, err = e.register(ctx, topic+"-key", schemas.Key); err != nil {
			return nil, registerError(t, topic, topic+"-key", "key", err)
		}
		p.shardField = e.opts.KeyShardField != ""
	}
	if p.valueID, err = e.register(ctx, topic+"-value", schemas.Value); err != nil {
		return nil, registerError(t, topic, topic+"-value", "value", err)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if existing := e.byShape[shapeKey]; existing != nil {
		return existing, nil
	}
	e.byShape[shapeKey] = p
	return p, nil
}

// registerError says which table's schema the registry refused, and for an
// incompatible one why and what to do (IncompatibleSchemaError).
func registerError(t *schema.Table, topic, subject, which string, err error) error {
	if errors.Is(err, ErrIncompatibleSchema) {
		return &IncompatibleSchemaError{Table: t.QualifiedName(), Topic: topic, Subject: subject, DDL: t.DDL, Reason: registryReason(err), Err: err}
	}
	return fmt.Errorf("serde: register %s schema of table %s for topic %s: %w", which, t.QualifiedName(), topic, err)
}

func (e *Encoder) register(ctx context.Context, subject, text string) (int, error) {
	id, err := e.reg.Register(ctx, subject, text)
	if err != nil {
		return 0, err
	}
	if id <= 0 || id > math.MaxUint32 {
		return 0, fmt.Errorf("registry returned schema id %d for subject %s: outside the 4-byte wire range", id, subject)
	}
	return id, nil
}
