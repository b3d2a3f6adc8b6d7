package serde

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/largerecord"
	"github.com/tidemark-cdc/tidemark/schema"
)

func blobEvent(id int64, body []byte) *change.Event {
	t := &schema.Table{Database: "shop", Name: "docs",
		Columns: []schema.Column{
			{Name: "id", Type: schema.TypeBigInt},
			{Name: "body", Type: schema.TypeBlob, Nullable: true},
		},
		PrimaryKey: []int{0}}
	return &change.Event{Op: change.OpCreate, Table: t, After: change.Row{id, body},
		Source: change.Source{Shard: "shard1", Connector: "mariadb", Database: "shop", Table: "docs", GTID: "0-1-7", TxSeq: 1, TsMs: 1}}
}

type claimEnv struct {
	reg   *MemRegistry
	enc   *Encoder
	cc    *ClaimCheck
	dec   *Decoder
	store largerecord.Store
	dir   string
}

func newClaimEnv(t testing.TB, limit int, withStore bool) *claimEnv {
	t.Helper()
	e := &claimEnv{reg: NewMemRegistry(), dir: t.TempDir()}
	var err error
	if e.enc, err = NewEncoder(e.reg, Options{}); err != nil {
		t.Fatal(err)
	}
	opts := ClaimCheckOptions{Secret: []byte("0123456789abcdef0123"),
		Threshold: func(context.Context, string) (int, error) { return limit, nil }}
	if withStore {
		if e.store, err = largerecord.Open(context.Background(), "file://"+e.dir); err != nil {
			t.Fatal(err)
		}
		opts.Store = e.store
	}
	if e.cc, err = NewClaimCheck(e.reg, opts); err != nil {
		t.Fatal(err)
	}
	e.dec = NewDecoder(e.reg, DecoderOptions{})
	t.Cleanup(func() { e.dec.Close() })
	return e
}

// encode returns the single message of a create of body, claim-checked.
func (e *claimEnv) encode(t testing.TB, body []byte) (Message, ClaimResult, []byte) {
	t.Helper()
	msgs, err := e.enc.Messages(context.Background(), nil, "tm.shop.docs", blobEvent(1, body), testNow)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("encode: %v (%d messages)", err, len(msgs))
	}
	m := msgs[0]
	plain := bytes.Clone(m.Value)
	res, err := e.cc.Apply(context.Background(), ClaimRef{Topic: "tm.shop.docs", Shard: "shard1", Event: "0-1-7", Row: 1}, &m)
	if err != nil {
		t.Fatalf("claim-check: %v", err)
	}
	return m, res, plain
}

func (e *claimEnv) resolve(t *testing.T, m Message) ([]byte, *Record, error) {
	t.Helper()
	r := &KafkaRecord{Topic: "tm.shop.docs", Partition: 2, Offset: 42, Key: m.Key, Value: m.Value, Headers: m.Headers}
	v, _, err := e.dec.Resolve(context.Background(), r)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.dec.DecodeRecord(context.Background(), r)
	return v, rec, err
}

func header(m Message, k string) string {
	for _, h := range m.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestClaimCheckBelowThresholdUnchanged(t *testing.T) {
	e := newClaimEnv(t, 1<<20, true)
	m, res, plain := e.encode(t, []byte("small"))
	if res.Form != "" || !bytes.Equal(m.Value, plain) || header(m, HeaderClaimCheck) != "" {
		t.Fatalf("a small record was rewritten: %+v", res)
	}
}

// A compressible 3 MB value fits a 1 MB limit compressed: inline, marked,
// and resolved to the very bytes the encoder wrote.
func TestClaimCheckCompressesInline(t *testing.T) {
	e := newClaimEnv(t, 1_000_000, true)
	body := bytes.Repeat([]byte("Crème brûlée à la française. "), 3_000_000/30)
	m, res, plain := e.encode(t, body)
	if res.Form != ClaimCompressed || m.Size() > 1_000_000 || header(m, HeaderClaimCheck) != ClaimCompressed {
		t.Fatalf("result %+v, size %d, header %q", res, m.Size(), header(m, HeaderClaimCheck))
	}
	v, rec, err := e.resolve(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v, plain) || rec.ClaimCheck != ClaimCompressed || !bytes.Equal(rec.After["body"].([]byte), body) {
		t.Fatalf("resolved %d bytes (want %d), form %q", len(v), len(plain), rec.ClaimCheck)
	}
	if entries, _ := os.ReadDir(e.dir); len(entries) != 0 {
		t.Errorf("an inline record wrote %d objects", len(entries))
	}
}

// A random 40 MB value is offloaded: a pointer record, one encrypted
// object, resolved exactly; a replayed write makes no second object.
func TestClaimCheckOffloads(t *testing.T) {
	e := newClaimEnv(t, 1_000_000, true)
	body := randomBytes(40 << 20)
	m, res, plain := e.encode(t, body)
	if res.Form != ClaimOffloaded || m.Size() > 4096 || m.Value == nil {
		t.Fatalf("result %+v, placeholder %d bytes", res, m.Size())
	}
	if header(m, HeaderClaimCheckObject) != res.Object || header(m, HeaderClaimCheckSize) == "" || len(header(m, HeaderClaimCheckSHA256)) != 64 {
		t.Fatalf("headers %v", m.Headers)
	}
	v, rec, err := e.resolve(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v, plain) || !bytes.Equal(rec.After["body"].([]byte), body) || rec.ClaimCheck != ClaimOffloaded {
		t.Fatal("the offloaded record did not resolve to its bytes")
	}
	objects := files(t, e.dir)
	if len(objects) != 1 {
		t.Fatalf("%d objects, want 1: %v", len(objects), objects)
	}
	stored, _ := os.ReadFile(objects[0])
	if bytes.Contains(stored, body[1000:1064]) {
		t.Error("the stored object contains the plaintext")
	}
	// A replay of the event, whose envelope differs in processing time:
	// the first attempt's object, and a pointer that resolves to its bytes.
	msgs, _ := e.enc.Messages(context.Background(), nil, "tm.shop.docs", blobEvent(1, body), testNow.Add(time.Minute))
	m2 := msgs[0]
	if bytes.Equal(m2.Value, plain) {
		t.Fatal("the replay encoded the same bytes: the test proves nothing")
	}
	res2, err := e.cc.Apply(context.Background(), ClaimRef{Topic: "tm.shop.docs", Shard: "shard1", Event: "0-1-7", Row: 1}, &m2)
	if err != nil {
		t.Fatal(err)
	}
	if v2, _, err := e.resolve(t, m2); err != nil || !bytes.Equal(v2, plain) {
		t.Errorf("the replay's pointer resolves to %d bytes, %v; want the first attempt's", len(v2), err)
	}
	if res2.Object != res.Object || len(files(t, e.dir)) != 1 || header(m2, HeaderClaimCheckKey) != header(m, HeaderClaimCheckKey) {
		t.Errorf("a replay wrote %s (first %s), %d objects", res2.Object, res.Object, len(files(t, e.dir)))
	}

	// Failures name the record and the object.
	tampered := bytes.Clone(stored)
	tampered[len(tampered)/2] ^= 1
	os.WriteFile(objects[0], tampered, 0o600)
	if _, _, err := e.resolve(t, m); !errors.Is(err, largerecord.ErrWrongKey) || !strings.Contains(err.Error(), "partition 2 offset 42") || !strings.Contains(err.Error(), res.Object) {
		t.Errorf("tampered object: %v", err)
	}
	os.Remove(objects[0])
	var re *ResolveError
	if _, _, err := e.resolve(t, m); !errors.Is(err, largerecord.ErrNotFound) || !errors.As(err, &re) || re.Object != res.Object {
		t.Errorf("missing object: %v", err)
	}
	wrong := m
	wrong.Headers = append([]Header(nil), m.Headers...)
	for i := range wrong.Headers {
		if wrong.Headers[i].Key == HeaderClaimCheckKey {
			wrong.Headers[i].Value = []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		}
	}
	os.WriteFile(objects[0], stored, 0o600)
	if _, _, err := e.resolve(t, wrong); !errors.Is(err, largerecord.ErrWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestClaimCheckWithoutStoreFails(t *testing.T) {
	e := newClaimEnv(t, 1_000_000, false)
	msgs, _ := e.enc.Messages(context.Background(), nil, "tm.shop.docs", blobEvent(1, randomBytes(2<<20)), testNow)
	_, err := e.cc.Apply(context.Background(), ClaimRef{Topic: "tm.shop.docs"}, &msgs[0])
	if !errors.Is(err, ErrRecordTooLarge) || !strings.Contains(err.Error(), "large_records.store") {
		t.Fatalf("err = %v", err)
	}
}

func files(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// Resolving arbitrary bytes under either claim-check header never panics
// and never returns a value larger than the wrapper declares.
func FuzzResolve(f *testing.F) {
	e := newClaimEnv(f, 1_000_000, false)
	ids, _ := e.cc.schemaIDs(context.Background())
	f.Add(appendCompressed(nil, ids[0], 5, largerecord.Compress(nil, []byte("hello"))), true)
	f.Add(appendPointer(nil, ids[1], "gs://b/t/s/e/1-00", 5, "00"), false)
	f.Add([]byte{0, 0, 0, 0, 1, 2, 'x'}, true)
	f.Fuzz(func(t *testing.T, value []byte, compressed bool) {
		form, hs := ClaimOffloaded, []Header{{HeaderClaimCheckKey, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")}}
		if compressed {
			form, hs = ClaimCompressed, nil
		}
		r := &KafkaRecord{Topic: "t", Value: value, Headers: append(hs, Header{HeaderClaimCheck, []byte(form)})}
		e.dec.objects.open0 = func(context.Context, string) (largerecord.Store, error) {
			return nil, errors.New("no store in the fuzzer")
		}
		v, _, err := e.dec.Resolve(context.Background(), r)
		if err == nil && len(v) > len(value)*1000+1<<20 {
			t.Fatalf("%d bytes from %d", len(v), len(value))
		}
	})
}
