package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// debeziumLikeSchema has the envelope's shape as both Debezium (through
// Apicurio's converter) and Tidemark register it: before/after as a
// nullable record, source, op, ts_ms.
const debeziumLikeSchema = `{"type":"record","name":"Envelope","namespace":"benchdbzavro.bench.orders","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
   {"name":"id","type":"long"},
   {"name":"title","type":["null","string"],"default":null},
   {"name":"commit_us","type":"long"}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","fields":[{"name":"name","type":"string"}]}},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null}]}`

type tValue struct {
	ID       int64   `avro:"id"`
	Title    *string `avro:"title"`
	CommitUS int64   `avro:"commit_us"`
}

type tEnvelope struct {
	Before *tValue `avro:"before"`
	After  *tValue `avro:"after"`
	Source struct {
		Name string `avro:"name"`
	} `avro:"source"`
	Op   string `avro:"op"`
	TsMs *int64 `avro:"ts_ms"`
}

func confluent(t *testing.T, id uint32, schema string, v any) []byte {
	t.Helper()
	body, err := avro.Marshal(avro.MustParse(schema), v)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], id)
	return append(out, body...)
}

func TestAvroDecoderCommitUS(t *testing.T) {
	fetches := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/schemas/ids/7" {
			http.NotFound(w, r)
			return
		}
		fetches++
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": debeziumLikeSchema})
	}))
	defer srv.Close()
	dec := newAvroDecoder(srv.URL)
	title := "x"
	row := &tValue{ID: 1, Title: &title, CommitUS: 1795548520123456}
	created := tEnvelope{After: row, Op: "c"}
	deleted := tEnvelope{Before: row, Op: "d"}

	ctx := context.Background()
	us, ok, err := dec.commitUS(ctx, confluent(t, 7, debeziumLikeSchema, created))
	if err != nil || !ok || us != 1795548520123456 {
		t.Fatalf("create: us=%d ok=%v err=%v", us, ok, err)
	}
	if _, ok, err := dec.commitUS(ctx, confluent(t, 7, debeziumLikeSchema, deleted)); err != nil || ok {
		t.Fatalf("delete: ok=%v err=%v, want no after image", ok, err)
	}
	if _, ok, err := dec.commitUS(ctx, nil); err != nil || ok {
		t.Fatalf("tombstone: ok=%v err=%v", ok, err)
	}
	if fetches != 1 {
		t.Fatalf("schema fetched %d times, want once (cached)", fetches)
	}
	if _, _, err := dec.commitUS(ctx, []byte(`{"after":{}}`)); err == nil {
		t.Fatalf("unframed value decoded without error")
	}
	if _, _, err := dec.commitUS(ctx, confluent(t, 8, debeziumLikeSchema, created)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown schema id: err = %v", err)
	}
}

func TestJSONDecoderCommitUS(t *testing.T) {
	tests := []struct {
		value  string
		us     int64
		ok     bool
		hasErr bool
	}{
		{`{"before":null,"after":{"id":1,"commit_us":1795548520123456,"attrs":"{}"},"op":"c"}`, 1795548520123456, true, false},
		{`{"before":{"id":1,"commit_us":5},"after":null,"op":"d"}`, 0, false, false},
		{`{"after":{"id":1}}`, 0, false, true},
		{`not json`, 0, false, true},
	}
	for _, tt := range tests {
		us, ok, err := jsonDecoder{}.commitUS(context.Background(), []byte(tt.value))
		if us != tt.us || ok != tt.ok || (err != nil) != tt.hasErr {
			t.Errorf("%s: us=%d ok=%v err=%v", tt.value, us, ok, err)
		}
	}
}

func TestKeyID(t *testing.T) {
	const keySchema = `{"type":"record","name":"Key","namespace":"benchdbzavro.bench.orders","fields":[{"name":"id","type":"long"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/schemas/ids/3" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": keySchema})
	}))
	defer srv.Close()
	ctx := context.Background()
	key := confluent(t, 3, keySchema, struct {
		ID int64 `avro:"id"`
	}{1000009})
	if id, err := newAvroDecoder(srv.URL).keyID(ctx, key); err != nil || id != 1000009 {
		t.Fatalf("Avro key: id=%d err=%v", id, err)
	}
	if _, err := newAvroDecoder(srv.URL).keyID(ctx, nil); err == nil {
		t.Fatal("a record without a key has an id")
	}
	if id, err := (jsonDecoder{}).keyID(ctx, []byte(`{"id":42}`)); err != nil || id != 42 {
		t.Fatalf("JSON key: id=%d err=%v", id, err)
	}
	if _, err := (jsonDecoder{}).keyID(ctx, []byte(`{"other":1}`)); err == nil {
		t.Fatal("a JSON key without id has an id")
	}
}
