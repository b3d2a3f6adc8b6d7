package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzParseByteSize: sizes in the YAML ("16MiB", "1 GiB", "1048576") parse
// to a non-negative byte count that is exactly the number times its unit:
// no overflow wraps a huge size to a small or negative one.
func FuzzParseByteSize(f *testing.F) {
	// Sizes of configs/tidemark.example.yaml and the docs.
	for _, s := range []string{"16MiB", "1GiB", "512KiB", "1048576", "100B", " 8 MiB ", "1MB", "0",
		"-1KiB", "9007199254740992KiB", "8589934592GiB", "9223372036854775807", "9223372036854775807B", "MiB", "1.5MiB", "0x10"} {
		f.Add(s)
	}
	units := map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "B": 1}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseByteSize(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("%q: %d with error %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("%q: %d bytes", s, n)
		}
		num, mult := strings.TrimSpace(s), int64(1)
		for _, u := range []string{"KiB", "MiB", "GiB", "KB", "MB", "GB", "B"} {
			if strings.HasSuffix(num, u) {
				num, mult = strings.TrimSpace(strings.TrimSuffix(num, u)), units[u]
				break
			}
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n/mult != v || n%mult != 0 || v > math.MaxInt64/mult {
			t.Fatalf("%q parsed as %d bytes", s, n)
		}
		if again, err := parseByteSize(strconv.FormatInt(n, 10) + "B"); err != nil || again != n {
			t.Fatalf("%q: %d bytes, which as %dB parse to %d (%v)", s, n, n, again, err)
		}
	})
}

// recordingControl is the admin API's daemon side: it records the snapshot
// request the handler parsed and asks the real daemon's checks about it.
type recordingControl struct {
	adminControl
	got *SnapshotRequest
}

func (c *recordingControl) StartSnapshot(ctx context.Context, req SnapshotRequest) (SnapshotStatus, error) {
	c.got = &req
	// A daemon without shards runs every check of the request, then
	// refuses it (no shard took it): the checks must not panic either.
	_, _ = (&Daemon{}).StartSnapshot(ctx, req)
	return SnapshotStatus{ID: "s-1", Request: req, State: "queued"}, nil
}

// FuzzSnapshotRequestBody: POST /snapshots bodies are operator bytes (the
// CLI's, curl's). The handler never panics, answers JSON with 201 or 400,
// and hands the daemon only a body that is exactly one JSON object (no
// trailing data) of known fields, which the request re-encodes to.
func FuzzSnapshotRequestBody(f *testing.F) {
	// Bodies as tidemark snapshot start and docs/snapshots.md send them.
	for _, s := range []string{
		`{"tables":["shop_*.orders"]}`,
		`{"shards":["shard-1","shard-2"],"tables":["shop_shard_7.orders","shop_shard_*.customers"],"where":"created_at > '2026-01-01'","chunk_size":16,"readers":2}`,
		`{"tables":["a.b"]} {"tables":["c.d"]}`, `{"tables":["a.b"]}garbage`, `{"tables":["a.b"]}` + "\n",
		`{"tables":["a.b"],"bogus":1}`, `{"tables":"a.b"}`, `{"chunk_size":1e99}`, `null`, `[]`, ``, `{`,
		`{"tables":["a.b"],"readers":-1}`,
	} {
		f.Add([]byte(s))
	}
	ctl := &recordingControl{}
	a := &adminServer{log: slog.New(slog.DiscardHandler), gatherer: prometheus.NewRegistry(),
		status: func() []ShardStatus { return nil }, ctl: ctl}
	h := a.handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		ctl.got = nil
		req := httptest.NewRequest("POST", "/snapshots", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated && rec.Code != http.StatusBadRequest {
			t.Fatalf("%q: status %d", body, rec.Code)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q: answer %q is not JSON", body, rec.Body.Bytes())
		}
		if ctl.got == nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil || dec.InputOffset() != int64(len(bytes.TrimRight(body, " \t\r\n"))) {
			t.Fatalf("%q handed to the daemon: not exactly one JSON value", body)
		}
		b, _ := json.Marshal(ctl.got)
		var again SnapshotRequest
		if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(normalize(again), normalize(*ctl.got)) {
			t.Fatalf("%q -> %+v -> %s -> %+v (%v)", body, *ctl.got, b, again, err)
		}
	})
}

// normalize makes empty and absent lists equal (omitempty drops both).
func normalize(r SnapshotRequest) SnapshotRequest {
	if len(r.Shards) == 0 {
		r.Shards = nil
	}
	if len(r.Tables) == 0 {
		r.Tables = nil
	}
	return r
}

// FuzzDecodeKafkaState: verify's sort runs are read back from disk. A
// corrupt entry is an error, never a panic, and an entry that decodes is
// one encodeKafkaState writes the same (a deleted flag other than 0 or 1
// was once read as live).
func FuzzDecodeKafkaState(f *testing.F) {
	f.Add(encodeKafkaState(nil, &kafkaState{partition: 3, offset: 12345, shard: "shard-1", digest: rowDigest("d1")}, []byte(`{"id":1}`)))
	f.Add(encodeKafkaState(nil, &kafkaState{partition: 0, offset: 0, deleted: true}, nil))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, raw, err := decodeKafkaState(b)
		if err != nil {
			return
		}
		// The same entry: re-encoding is canonical (binary.Uvarint also
		// reads overlong lengths, which encodeKafkaState never writes).
		again := encodeKafkaState(nil, st, raw)
		st2, raw2, err := decodeKafkaState(again)
		if err != nil || !reflect.DeepEqual(st, st2) || !bytes.Equal(raw, raw2) || len(again) > len(b) {
			t.Fatalf("%x decodes to %+v, which encodes as %x (%v)", b, st, again, err)
		}
	})
}
