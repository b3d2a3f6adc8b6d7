package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidemark-cdc/tidemark/serde"
)

// recordDecoder reads the two fields of a change record the bench needs:
// the row's commit_us from the value (the latency consumer) and its id from
// the key (the drain's delivery audit). It understands the two formats under
// test: Confluent-framed Avro with a Debezium-style envelope (Tidemark;
// Debezium through Apicurio's converter in Confluent mode) and Debezium's
// schemaless JSON.
type recordDecoder interface {
	// commitUS returns the after image's commit_us, or ok=false for records
	// without an after image (deletes, tombstones).
	commitUS(ctx context.Context, value []byte) (us int64, ok bool, err error)
	// keyID returns the bench table's primary key, id, from a record key.
	keyID(ctx context.Context, key []byte) (int64, error)
}

// envelope is the part of a JSON change envelope the bench reads.
type envelope struct {
	After *afterImage `avro:"after" json:"after"`
}

type afterImage struct {
	// any, because a nullable column would make it a union; ours is NOT NULL.
	CommitUS any `avro:"commit_us" json:"commit_us"`
}

// avroDecoder reads Confluent-framed Avro with the decoder Tidemark's
// consumers use (serde), which fetches each writer schema once by id.
type avroDecoder struct{ dec *serde.Decoder }

func newAvroDecoder(registryURL string) *avroDecoder {
	reg, err := serde.NewRegistryClient(serde.RegistryConfig{URL: registryURL, Timeout: 10 * time.Second})
	if err != nil {
		panic(fmt.Sprintf("registry client for %s: %v", registryURL, err)) // the URL comes from stack/stack env
	}
	return &avroDecoder{dec: serde.NewDecoder(reg, serde.DecoderOptions{})}
}

func (d *avroDecoder) commitUS(ctx context.Context, value []byte) (int64, bool, error) {
	if value == nil {
		return 0, false, nil // tombstone
	}
	rec, err := d.dec.Decode(ctx, nil, value)
	if err != nil {
		return 0, false, err
	}
	if rec.After == nil {
		return 0, false, nil
	}
	return envelope{After: &afterImage{CommitUS: rec.After["commit_us"]}}.commitUS()
}

func (d *avroDecoder) keyID(ctx context.Context, key []byte) (int64, error) {
	if len(key) == 0 {
		return 0, errors.New("record without a key")
	}
	rec, err := d.dec.Decode(ctx, key, nil)
	if err != nil {
		return 0, err
	}
	return idField(rec.Key["id"])
}

// jsonDecoder reads Debezium's JsonConverter output without schemas:
// {"before":{..},"after":{..},"source":{..},"op":"c",...}.
type jsonDecoder struct{}

func (jsonDecoder) commitUS(_ context.Context, value []byte) (int64, bool, error) {
	if value == nil {
		return 0, false, nil
	}
	var env envelope
	if err := json.Unmarshal(value, &env); err != nil {
		return 0, false, fmt.Errorf("decode JSON value: %w", err)
	}
	return env.commitUS()
}

// keyID reads {"id":N}, the key JsonConverter writes without schemas.
func (jsonDecoder) keyID(_ context.Context, key []byte) (int64, error) {
	var k struct {
		ID *int64 `json:"id"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		return 0, fmt.Errorf("decode JSON key: %w", err)
	}
	if k.ID == nil {
		return 0, fmt.Errorf("JSON key %.100q has no id", key)
	}
	return *k.ID, nil
}

func idField(v any) (int64, error) {
	switch id := v.(type) {
	case int64:
		return id, nil
	case int32:
		return int64(id), nil
	case nil:
		return 0, errors.New("key has no id")
	}
	return 0, fmt.Errorf("key id of unexpected type %T", v)
}

func (e envelope) commitUS() (int64, bool, error) {
	if e.After == nil {
		return 0, false, nil
	}
	switch v := e.After.CommitUS.(type) {
	case int64:
		return v, true, nil
	case float64: // encoding/json; µs since the epoch fit a float64 exactly until 2255
		return int64(v), true, nil
	case map[string]any: // a nullable union, decoded as {"long": n}
		for _, x := range v {
			if n, ok := x.(int64); ok {
				return n, true, nil
			}
		}
	case nil:
		return 0, false, errors.New("after image has no commit_us")
	}
	return 0, false, fmt.Errorf("commit_us of unexpected type %T", e.After.CommitUS)
}
