package serde

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/tidemark-cdc/tidemark/largerecord"
)

// The claim-check (docs/claim-check.md): a record above the threshold gets
// its value compressed inline, or, still too big, encrypted into the blob
// store with a pointer in its place. Both replacements are Confluent-framed
// Avro of Tidemark's own schemas, so a consumer without this serde decodes
// a record of another type instead of crashing.

// HeaderEventID is Tidemark's record id, shard/event/row/part
// (docs/wire-format.md, "Headers"): deterministic, so the same change
// written twice (a restart, at least once) carries the same id.
const HeaderEventID = "tidemark.id"

// Claim-check headers.
const (
	HeaderClaimCheck       = "tidemark.claimcheck" // "compressed" or "offloaded"
	HeaderClaimCheckObject = "tidemark.claimcheck.object"
	HeaderClaimCheckSize   = "tidemark.claimcheck.size"
	HeaderClaimCheckSHA256 = "tidemark.claimcheck.sha256"
	HeaderClaimCheckKey    = "tidemark.claimcheck.key"

	ClaimCompressed = "compressed"
	ClaimOffloaded  = "offloaded"
)

// The wrappers' schemas and subjects; their full names identify them on read.
const (
	compressedSchema = `{"type":"record","name":"Compressed","namespace":"io.tidemark.claimcheck","fields":[` +
		`{"name":"codec","type":"string"},{"name":"size","type":"long"},{"name":"data","type":"bytes"}]}`
	pointerSchema = `{"type":"record","name":"Pointer","namespace":"io.tidemark.claimcheck","fields":[` +
		`{"name":"uri","type":"string"},{"name":"size","type":"long"},{"name":"sha256","type":"string"},{"name":"codec","type":"string"}]}`
	compressedName    = "io.tidemark.claimcheck.Compressed"
	pointerName       = "io.tidemark.claimcheck.Pointer"
	compressedSubject = "tidemark.claimcheck.Compressed"
	pointerSubject    = "tidemark.claimcheck.Pointer"
	codecZstd         = "zstd"
)

// ClaimHeadroom is what the default threshold leaves under the topic's
// max.message.bytes for the batch's and record's framing and the
// claim-check's own headers.
const ClaimHeadroom = 16 << 10

// ClaimCheckOptions configure a ClaimCheck.
type ClaimCheckOptions struct {
	// Store receives offloaded values; nil allows compression only, and a
	// record still too big then fails with ErrRecordTooLarge.
	Store largerecord.Store
	// Secret keys the objects' encryption (largerecord.Seal); it is needed
	// to write, never to read. Empty: plain convergent encryption.
	Secret []byte
	// Threshold returns a topic's limit in bytes (key + value + headers):
	// records above it are claim-checked.
	Threshold func(ctx context.Context, topic string) (int, error)
}

// ClaimCheck rewrites records above a topic's threshold. Safe for
// concurrent use.
type ClaimCheck struct {
	reg  Registry
	opts ClaimCheckOptions

	mu                    sync.Mutex
	compressedID, pointID int
}

// NewClaimCheck returns a claim-check registering its wrapper schemas in
// reg. It does no I/O.
func NewClaimCheck(reg Registry, opts ClaimCheckOptions) (*ClaimCheck, error) {
	if reg == nil || opts.Threshold == nil {
		return nil, errors.New("serde: NewClaimCheck: a registry and a threshold are required")
	}
	return &ClaimCheck{reg: reg, opts: opts}, nil
}

// ClaimRef identifies the message, for its object's name.
type ClaimRef struct {
	Topic, Shard string
	Event        string // the transaction's GTID, a binlog file:pos, or a snapshot row's id
	Row          int    // the event's place in its transaction
	Part         int    // the message's place among its event's (0..3)
	// ContentAddressed adds the bytes' hash to the name: for snapshot rows,
	// whose re-read after a restart may find the row changed. A binlog
	// event's name is the event's alone, so its replay, whose envelope
	// differs in processing time, finds the first attempt's object.
	ContentAddressed bool
}

// ClaimResult says what Apply did, for metrics.
type ClaimResult struct {
	Form          string // "", ClaimCompressed or ClaimOffloaded
	Before, After int    // the record's bytes before and after
	Object        string // the offloaded object's URI
}

// Size is a message's bytes as the broker counts them against its limit
// (key, value, header keys and values; framing is in the headroom).
func (m *Message) Size() int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Fits reports whether m is within its topic's threshold: nothing for
// Apply to do. It lets callers skip building the ClaimRef of the records
// that fit, nearly all of them.
func (c *ClaimCheck) Fits(ctx context.Context, topic string, m *Message) (bool, error) {
	if m.Value == nil {
		return true, nil
	}
	limit, err := c.opts.Threshold(ctx, topic)
	return err == nil && m.Size() <= limit, err
}

// Apply claim-checks m in place when it exceeds its topic's threshold.
// The store write is one attempt: callers retry (an error wraps the
// store's; the same m and ref write the same object again, never a second).
func (c *ClaimCheck) Apply(ctx context.Context, ref ClaimRef, m *Message) (ClaimResult, error) {
	res := ClaimResult{Before: m.Size(), After: m.Size()}
	if m.Value == nil {
		return res, nil
	}
	limit, err := c.opts.Threshold(ctx, ref.Topic)
	if err != nil {
		return res, err
	}
	if res.Before <= limit {
		return res, nil
	}
	ids, err := c.schemaIDs(ctx)
	if err != nil {
		return res, err
	}
	v := m.Value
	compressed := largerecord.Compress(nil, v)
	wrapped := appendCompressed(make([]byte, 0, len(compressed)+32), ids[0], int64(len(v)), compressed)
	inline := *m
	inline.Value = wrapped
	inline.Headers = append(m.Headers[:len(m.Headers):len(m.Headers)], Header{HeaderClaimCheck, []byte(ClaimCompressed)})
	if inline.Size() <= limit {
		*m = inline
		return ClaimResult{Form: ClaimCompressed, Before: res.Before, After: m.Size()}, nil
	}
	if c.opts.Store == nil {
		return res, fmt.Errorf("%w: %d bytes (%d compressed) over topic %s's limit of %d, and no large-record store is configured (large_records.store)",
			ErrRecordTooLarge, res.Before, len(wrapped), ref.Topic, limit)
	}
	lref := largerecord.Ref{Topic: ref.Topic, Shard: ref.Shard, Event: ref.Event, Row: ref.Row*4 + ref.Part, Secret: c.opts.Secret}
	if ref.ContentAddressed {
		lref.Plaintext = compressed
	}
	name := largerecord.ObjectName(lref)
	object, key := largerecord.Seal(c.opts.Secret, name, compressed)
	err = c.opts.Store.Put(ctx, name, object)
	if errors.Is(err, largerecord.ErrConflict) {
		// A replay of the event: the first attempt stored its bytes, which
		// differ from these only in the envelope's processing time. Its
		// record may be in Kafka already; point at the same object.
		v, err = c.existing(ctx, name, key)
	}
	if err != nil {
		return res, fmt.Errorf("offload a %d-byte record of topic %s: %w", res.Before, ref.Topic, err)
	}
	uri := c.opts.Store.URI(name)
	sum := sha256.Sum256(v)
	hexSum := hex.EncodeToString(sum[:])
	m.Value = appendPointer(nil, ids[1], uri, int64(len(v)), hexSum)
	m.Headers = append(m.Headers[:len(m.Headers):len(m.Headers)],
		Header{HeaderClaimCheck, []byte(ClaimOffloaded)},
		Header{HeaderClaimCheckObject, []byte(uri)},
		Header{HeaderClaimCheckSize, []byte(strconv.Itoa(len(v)))},
		Header{HeaderClaimCheckSHA256, []byte(hexSum)},
		Header{HeaderClaimCheckKey, []byte(base64.StdEncoding.EncodeToString(key))},
	)
	return ClaimResult{Form: ClaimOffloaded, Before: res.Before, After: m.Size(), Object: uri}, nil
}

// existing reads back the value an earlier attempt stored under name.
func (c *ClaimCheck) existing(ctx context.Context, name string, key []byte) ([]byte, error) {
	object, err := c.opts.Store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	plain, err := largerecord.Unseal(key, name, object)
	if err != nil {
		return nil, fmt.Errorf("the object an earlier attempt stored does not open with this daemon's secret (was large_records.secret_env changed?): %w", err)
	}
	return largerecord.Decompress(plain, maxClaimedValue)
}

// schemaIDs registers the wrapper schemas once.
func (c *ClaimCheck) schemaIDs(ctx context.Context) ([2]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.compressedID == 0 {
		id, err := c.reg.Register(ctx, compressedSubject, compressedSchema)
		if err != nil {
			return [2]int{}, fmt.Errorf("register the claim-check schema %s: %w", compressedSubject, err)
		}
		c.compressedID = id
	}
	if c.pointID == 0 {
		id, err := c.reg.Register(ctx, pointerSubject, pointerSchema)
		if err != nil {
			return [2]int{}, fmt.Errorf("register the claim-check schema %s: %w", pointerSubject, err)
		}
		c.pointID = id
	}
	return [2]int{c.compressedID, c.pointID}, nil
}

func appendCompressed(b []byte, id int, size int64, data []byte) []byte {
	b = AppendFrameHeader(b, id)
	b = appendString(b, codecZstd)
	b = appendLong(b, size)
	return appendBytes(b, data)
}

func appendPointer(b []byte, id int, uri string, size int64, sum string) []byte {
	b = AppendFrameHeader(b, id)
	b = appendString(b, uri)
	b = appendLong(b, size)
	b = appendString(b, sum)
	return appendString(b, codecZstd)
}
