package serde

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tidemark-cdc/tidemark/largerecord"
)

// KafkaRecord is a record as read from Kafka, for DecodeRecord: where it
// is names it in errors.
type KafkaRecord struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key, Value []byte
	Headers    []Header
}

func (r *KafkaRecord) header(k string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value), true
		}
	}
	return "", false
}

// ResolveError is a claim-checked record that could not be resolved: the
// object is missing, fails its hash or does not open with the record's key.
type ResolveError struct {
	Topic     string
	Partition int32
	Offset    int64
	Object    string // "" for a compressed record
	Err       error
}

func (e *ResolveError) Error() string {
	where := fmt.Sprintf("topic %s partition %d offset %d", e.Topic, e.Partition, e.Offset)
	if e.Object != "" {
		where += " object " + e.Object
	}
	return "resolve the claim-checked record at " + where + ": " + e.Err.Error()
}

func (e *ResolveError) Unwrap() error { return e.Err }

// DecodeRecord decodes a record as Decode does, first resolving a
// claim-checked value (docs/claim-check.md): inflating a compressed one,
// or fetching, opening and inflating an offloaded one. Record.ClaimCheck
// says which it was.
func (d *Decoder) DecodeRecord(ctx context.Context, r *KafkaRecord) (*Record, error) {
	v, form, err := d.Resolve(ctx, r)
	if err != nil {
		return nil, err
	}
	rec, err := d.Decode(ctx, r.Key, v)
	if err != nil {
		return nil, fmt.Errorf("topic %s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	rec.ClaimCheck = form
	return rec, nil
}

// Resolve returns the value a record stands for and its claim-check form
// ("" for a plain record, whose value is returned as it is).
func (d *Decoder) Resolve(ctx context.Context, r *KafkaRecord) ([]byte, string, error) {
	form, _ := r.header(HeaderClaimCheck)
	fail := func(object string, err error) ([]byte, string, error) {
		return nil, form, &ResolveError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Object: object, Err: err}
	}
	switch form {
	case "":
		return r.Value, "", nil
	case ClaimCompressed:
		w, err := d.wrapper(ctx, r.Value, compressedName)
		if err != nil {
			return fail("", err)
		}
		v, err := inflate(w, w["data"])
		if err != nil {
			return fail("", err)
		}
		return v, form, nil
	case ClaimOffloaded:
		w, err := d.wrapper(ctx, r.Value, pointerName)
		if err != nil {
			return fail("", err)
		}
		uri, _ := w["uri"].(string)
		if h, _ := r.header(HeaderClaimCheckObject); h != uri {
			return fail(uri, fmt.Errorf("%w: header %s %q differs from the pointer's object", ErrMalformed, HeaderClaimCheckObject, h))
		}
		k, _ := r.header(HeaderClaimCheckKey)
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) != 32 {
			return fail(uri, fmt.Errorf("%w: header %s is not a base64 32-byte key", ErrMalformed, HeaderClaimCheckKey))
		}
		root, name, err := splitObjectURI(uri)
		if err != nil {
			return fail(uri, err)
		}
		store, err := d.objects.open(ctx, root)
		if err != nil {
			return fail(uri, err)
		}
		object, err := store.Get(ctx, name)
		if err != nil {
			return fail(uri, err)
		}
		plain, err := largerecord.Unseal(key, name, object)
		if err != nil {
			return fail(uri, err)
		}
		v, err := inflate(w, plain)
		if err != nil {
			return fail(uri, err)
		}
		sum := sha256.Sum256(v)
		if want, _ := w["sha256"].(string); hex.EncodeToString(sum[:]) != want {
			return fail(uri, fmt.Errorf("%w: SHA-256 %x, the pointer says %s", ErrHashMismatch, sum, want))
		}
		return v, form, nil
	}
	return fail("", fmt.Errorf("%w: header %s %q (a newer Tidemark?)", ErrMalformed, HeaderClaimCheck, form))
}

// wrapper decodes a claim-check wrapper value, checking it is the record
// type want.
func (d *Decoder) wrapper(ctx context.Context, value []byte, want string) (map[string]any, error) {
	_, m, n, err := d.decodeRecord(ctx, value)
	if err != nil {
		return nil, err
	}
	if n.name != want {
		return nil, fmt.Errorf("%w: a %s value under header %s, want %s", ErrMalformed, n.name, HeaderClaimCheck, want)
	}
	return m, nil
}

// maxClaimedValue bounds what a wrapper may claim to inflate to, so that
// a forged size cannot make the reader allocate without limit.
const maxClaimedValue = 1 << 30

// inflate decompresses data as the wrapper w says, no larger than its size.
func inflate(w map[string]any, data any) ([]byte, error) {
	b, _ := data.([]byte)
	size, _ := w["size"].(int64)
	if size < 0 || size > maxClaimedValue {
		return nil, fmt.Errorf("%w: a claim-checked value of %d bytes (the bound is %d)", ErrMalformed, size, maxClaimedValue)
	}
	if codec, _ := w["codec"].(string); codec != codecZstd {
		return nil, fmt.Errorf("%w: codec %q", ErrMalformed, codec)
	}
	v, err := largerecord.Decompress(b, int(size))
	if err != nil {
		return nil, err
	}
	if len(v) != int(size) {
		return nil, fmt.Errorf("%w: %d bytes inflated, the record says %d", ErrMalformed, len(v), size)
	}
	return v, nil
}

// splitObjectURI splits an object's URI into its store's root and the
// object's name: the last four path segments (largerecord.ObjectName).
func splitObjectURI(uri string) (root, name string, err error) {
	parts := strings.Split(uri, "/")
	if len(parts) < 4+3 || !(strings.HasPrefix(uri, "gs://") || strings.HasPrefix(uri, "file:///")) {
		return "", "", fmt.Errorf("%w: object URI %q", ErrMalformed, uri)
	}
	cut := len(parts) - 4
	return strings.Join(parts[:cut], "/"), strings.Join(parts[cut:], "/"), nil
}

// objectStores opens the stores that pointers name, once per root.
type objectStores struct {
	open0 func(ctx context.Context, root string) (largerecord.Store, error)
	mu    sync.Mutex
	byURI map[string]largerecord.Store
}

func (o *objectStores) open(ctx context.Context, root string) (largerecord.Store, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s, ok := o.byURI[root]; ok {
		return s, nil
	}
	open := o.open0
	if open == nil {
		open = largerecord.Open
	}
	s, err := open(ctx, root)
	if err != nil {
		return nil, err
	}
	if o.byURI == nil {
		o.byURI = map[string]largerecord.Store{}
	}
	o.byURI[root] = s
	return s, nil
}

// Close closes the stores the decoder opened.
func (d *Decoder) Close() error {
	d.objects.mu.Lock()
	defer d.objects.mu.Unlock()
	var errs []error
	for _, s := range d.objects.byURI {
		errs = append(errs, s.Close())
	}
	d.objects.byURI = nil
	return errors.Join(errs...)
}
