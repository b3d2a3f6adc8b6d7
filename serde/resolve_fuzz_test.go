package serde

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/tidemark-cdc/tidemark/largerecord"
)

// objectOverride is the directory store with, per fuzz input, the object
// bytes the input says the store holds.
type objectOverride struct {
	largerecord.Store
	object []byte
	set    bool
}

func (o *objectOverride) Get(ctx context.Context, name string) ([]byte, error) {
	if o.set {
		return o.object, nil
	}
	return o.Store.Get(ctx, name)
}

// FuzzResolveOffloaded: the resolve path of an offloaded record, end to end
// through a real local-directory store (largerecord's file:// store, in a
// temporary directory; the registry is the in-process one: what is fuzzed
// is the record, its headers and the object's bytes). Garbage pointers,
// forged sizes (up to 2^62), wrong hashes, wrong keys and truncated or
// corrupt objects return a *ResolveError and no bytes, never a panic or a
// claimed-size allocation; a value returned is exactly what the pointer
// says: its size and its SHA-256.
func FuzzResolveOffloaded(f *testing.F) {
	ctx := context.Background()
	e := newClaimEnv(f, 4096, true)
	body := randomBytes(64 << 10) // does not compress under the limit: offloaded
	m, res, plain := e.encode(f, body)
	if res.Form != ClaimOffloaded {
		f.Fatalf("seed record: form %q", res.Form)
	}
	uri, key := header(m, HeaderClaimCheckObject), header(m, HeaderClaimCheckKey)
	_, name, err := splitObjectURI(uri)
	if err != nil {
		f.Fatal(err)
	}
	object, err := e.store.Get(ctx, name)
	if err != nil {
		f.Fatal(err)
	}
	ids, _ := e.cc.schemaIDs(ctx)
	sum := sha256.Sum256(plain)
	hexSum := hex.EncodeToString(sum[:])
	size := int64(len(plain))
	otherKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	// A sealed object whose zstd is cut short: it opens, and fails to inflate.
	compressed := largerecord.Compress(nil, plain)
	cutObject, cutKey := largerecord.Seal([]byte("0123456789abcdef0123"), name, compressed[:len(compressed)/2])

	f.Add(m.Value, ClaimOffloaded, uri, key, []byte(nil), false)                                                        // the real record
	f.Add(m.Value, ClaimOffloaded, uri, otherKey, []byte(nil), false)                                                   // wrong key
	f.Add(appendPointer(nil, ids[1], uri, size, strings.Repeat("0", 64)), ClaimOffloaded, uri, key, []byte(nil), false) // wrong hash
	f.Add(appendPointer(nil, ids[1], uri, 1<<62, hexSum), ClaimOffloaded, uri, key, []byte(nil), false)                 // size 2^62
	f.Add(appendPointer(nil, ids[1], uri, 1<<30, hexSum), ClaimOffloaded, uri, key, []byte(nil), false)                 // a GiB claimed
	f.Add(appendPointer(nil, ids[1], uri, -1, hexSum), ClaimOffloaded, uri, key, []byte(nil), false)
	f.Add(m.Value, ClaimOffloaded, uri, key, object[:len(object)/2], true)                          // truncated object
	f.Add(m.Value, ClaimOffloaded, uri, base64.StdEncoding.EncodeToString(cutKey), cutObject, true) // truncated zstd
	f.Add(m.Value, ClaimOffloaded, uri, key, []byte{}, true)
	garbage := "file:///../../etc/passwd/a/b/c"
	f.Add(appendPointer(nil, ids[1], garbage, size, hexSum), ClaimOffloaded, garbage, key, []byte(nil), false)
	f.Add(appendPointer(nil, ids[1], "gs://b/t/s/e/1-00", 5, "00"), ClaimOffloaded, "gs://b/t/s/e/1-00", key, []byte(nil), false)
	f.Add(m.Value, ClaimCompressed, uri, key, []byte(nil), false) // a pointer under the compressed marker
	f.Add(m.Value, "OFFLOADED", uri, key, []byte(nil), false)
	f.Add([]byte{0, 0, 0, 0, 2, 0}, ClaimOffloaded, "", "", []byte(nil), false)

	store := &objectOverride{Store: e.store}
	e.dec.objects.open0 = func(context.Context, string) (largerecord.Store, error) {
		return store, nil // whatever root a pointer names: the temporary directory
	}
	// The fuzzer starts from a record that resolves: the paths below the
	// hash check are reached, not only the header checks.
	if v, _, err := e.dec.Resolve(ctx, &KafkaRecord{Topic: "t", Value: m.Value, Headers: m.Headers}); err != nil || !bytes.Equal(v, plain) {
		f.Fatalf("the seed record does not resolve: %v", err)
	}
	f.Fuzz(func(t *testing.T, value []byte, form, objHeader, keyHeader string, obj []byte, setObj bool) {
		store.object, store.set = obj, setObj
		e.dec.objects.byURI = nil
		r := &KafkaRecord{Topic: "tm.shop.docs", Partition: 2, Offset: 42, Key: m.Key, Value: value, Headers: []Header{
			{HeaderClaimCheck, []byte(form)}, {HeaderClaimCheckObject, []byte(objHeader)}, {HeaderClaimCheckKey, []byte(keyHeader)},
		}}
		v, gotForm, err := e.dec.Resolve(ctx, r)
		if err != nil {
			var re *ResolveError
			if v != nil || !errors.As(err, &re) {
				t.Fatalf("error %v (%T) with %d bytes", err, err, len(v))
			}
			return
		}
		if form == "" {
			if !bytes.Equal(v, value) || gotForm != "" {
				t.Fatalf("a plain record came back changed")
			}
			return
		}
		if gotForm != form || len(v) > maxClaimedValue {
			t.Fatalf("form %q for header %q, %d bytes", gotForm, form, len(v))
		}
		if form == ClaimOffloaded {
			w, err := e.dec.wrapper(ctx, value, pointerName)
			if err != nil {
				t.Fatalf("resolved a pointer that does not decode: %v", err)
			}
			s := sha256.Sum256(v)
			if w["size"].(int64) != int64(len(v)) || w["sha256"].(string) != hex.EncodeToString(s[:]) || w["uri"].(string) != objHeader {
				t.Fatalf("resolved %d bytes against pointer %v", len(v), w)
			}
		}
		if bytes.Equal(value, m.Value) && form == ClaimOffloaded && !bytes.Equal(v, plain) {
			t.Fatalf("the real record resolved to other bytes")
		}
	})
}
