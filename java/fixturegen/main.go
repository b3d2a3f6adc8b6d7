// Command fixturegen writes the Java deserializer's test fixtures
// (java/src/test/resources/fixtures) with Tidemark's own serde: a plain
// record, a compressed one and offloaded ones, their objects sealed into a
// local-directory store. The output is deterministic (zstd, the seal's key
// and nonce, the schema ids), so TestFixturesUpToDate fails when the Go
// format changes and the committed fixtures were not regenerated:
//
//	go run ./java/fixturegen            # rewrite them
//	go test ./java/fixturegen           # check them
//
// Each case is a directory: value (the record's value as Kafka holds it),
// headers (one "key<TAB>base64 value" line each), expected (the resolved
// value, V). Objects are under objects/, named as the store named them; their
// URIs say file:///tidemark-fixtures/objects/..., which the Java test maps to
// the resources (tidemark.claimcheck.file.dir).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync"

	"github.com/tidemark-cdc/tidemark/largerecord"
	"github.com/tidemark-cdc/tidemark/serde"
)

// Root is where the fixtures' object URIs say the store is.
const Root = "/tidemark-fixtures/objects"

// Threshold is the fixtures' claim-check limit: small, so that small values
// are claim-checked.
const Threshold = 4096

// Secret keys the objects (large_records.secret_env); a reader never needs it.
var Secret = []byte("fixture-secret-not-for-production")

func main() {
	out := flag.String("out", "java/src/test/resources/fixtures", "directory to write")
	flag.Parse()
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if err := Generate(*out); err != nil {
		log.Fatal(err)
	}
}

// fixture is one record to claim-check.
type fixture struct {
	name  string
	ref   serde.ClaimRef
	value []byte
	form  string // the form Apply must choose
}

func fixtures() []fixture {
	text := bytes.Repeat([]byte("Crème brûlée à la française, 😀 "), 20_000/36)
	ref := func(event string, row, part int) serde.ClaimRef {
		return serde.ClaimRef{Topic: "tidemark.fixture.docs", Shard: "shard1", Event: event, Row: row, Part: part}
	}
	return []fixture{
		{"plain", ref("0-1-41", 0, 1), confluent(42, []byte("a small row")), ""},
		{"compressed", ref("0-1-42", 0, 1), confluent(42, text), serde.ClaimCompressed},
		{"offloaded", ref("0-1-43", 1, 1), confluent(42, pseudoRandom("offloaded", 16_000)), serde.ClaimOffloaded},
		// A MySQL GTID: ':' in the object's name.
		{"offloaded-gtid", ref("3E11FA47-71CA-11E1-9E33-C80AA9429562:23", 0, 2), confluent(42, pseudoRandom("gtid", 9_000)), serde.ClaimOffloaded},
	}
}

// confluent frames payload as Confluent Avro under schema id.
func confluent(id int, payload []byte) []byte {
	return append(serde.AppendFrameHeader(nil, id), payload...)
}

// pseudoRandom is n incompressible, deterministic bytes.
func pseudoRandom(seed string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", seed, i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

// Generate writes the fixtures into dir (created).
func Generate(dir string) error {
	ctx := context.Background()
	objects := filepath.Join(dir, "objects")
	if err := os.MkdirAll(objects, 0o755); err != nil {
		return err
	}
	local, err := largerecord.Open(ctx, "file://"+mustAbs(objects))
	if err != nil {
		return err
	}
	cc, err := serde.NewClaimCheck(&memRegistry{}, serde.ClaimCheckOptions{
		Store:     fixedURI{local},
		Secret:    Secret,
		Threshold: func(context.Context, string) (int, error) { return Threshold, nil },
	})
	if err != nil {
		return err
	}
	for _, f := range fixtures() {
		m := &serde.Message{
			Key:     confluent(41, []byte{2}), // Avro long 1
			Value:   f.value,
			Headers: []serde.Header{{Key: serde.HeaderEventID, Value: []byte(f.ref.Shard + "/" + f.ref.Event + "/" + fmt.Sprint(f.ref.Row) + "/" + fmt.Sprint(f.ref.Part))}},
		}
		res, err := cc.Apply(ctx, f.ref, m)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if res.Form != f.form {
			return fmt.Errorf("%s: form %q, want %q", f.name, res.Form, f.form)
		}
		d := filepath.Join(dir, f.name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		var hdr bytes.Buffer
		for _, h := range m.Headers {
			fmt.Fprintf(&hdr, "%s\t%s\n", h.Key, base64.StdEncoding.EncodeToString(h.Value))
		}
		for name, b := range map[string][]byte{"value": m.Value, "headers": hdr.Bytes(), "expected": f.value} {
			if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// fixedURI is the real local-directory store, its URIs under Root whatever
// directory it writes to, so the fixtures do not depend on where they were made.
type fixedURI struct{ largerecord.Store }

func (fixedURI) URI(name string) string { return "file://" + Root + "/" + name }

// memRegistry gives the wrapper schemas ids 1, 2, ... in registration order.
type memRegistry struct {
	mu  sync.Mutex
	ids map[string]int
	txt []string
}

func (r *memRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]int{}
	}
	if id, ok := r.ids[subject+"\x00"+schema]; ok {
		return id, nil
	}
	r.txt = append(r.txt, schema)
	r.ids[subject+"\x00"+schema] = len(r.txt)
	return len(r.txt), nil
}

func (r *memRegistry) Schema(_ context.Context, id int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id < 1 || id > len(r.txt) {
		return "", fmt.Errorf("no schema %d", id)
	}
	return r.txt[id-1], nil
}
