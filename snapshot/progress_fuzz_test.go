package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
)

// FuzzParseProgress: the snapshot progress comes back from Kafka's
// positions topic with the shard's position. Whatever the bytes, the merger
// and runner built on them never panic (the runner's status, scheduling
// views, prune and re-encode), a refusal is ErrCorruptProgress, and an
// accepted document re-encodes to a fixed point.
func FuzzParseProgress(f *testing.F) {
	for _, s := range []string{
		// As the merger writes it (integration.TestSnapshotRestart's shard, chunk size 16).
		`{"v":1,"requests":[{"id":"s-20261203-120501-ab12cd","created_at":"2026-12-03T12:05:01.123456Z","reason":"api","patterns":["shop_*.orders"],"chunk_size":16,"readers":2,"state":"running","tables":[{"table":"shop_1.orders","state":"running","ranges":[{"after":[{"s":"48"}],"through":[{"s":"500"}]},{"after":[{"s":"512"}],"done":true}],"rows":64,"emitted":60,"superseded":4,"chunks":4,"estimated":1000,"started_at":"2026-12-03T12:05:02Z"}]}],"allow_list":[{"database":"shop_*"}]}`,
		`{"v":1,"requests":[{"id":"s-1","created_at":"2026-12-03T12:05:01Z","reason":"start","chunk_size":1024,"readers":1,"state":"done","tables":[{"table":"a.b","state":"done","ranges":[{"after":[{"b":"AAE="},{"s":"x"}],"done":true}],"rows":3,"emitted":3,"superseded":0,"chunks":1,"estimated":0,"started_at":"2026-12-03T12:05:02Z","done_at":"2026-12-03T12:05:03Z"}]}]}`,
		`{"v":1,"requests":[null]}`, `{"v":1,"requests":[{"id":"a","chunk_size":16,"readers":1,"state":"queued","tables":[null]}]}`,
		`{"v":1,"requests":[{"id":"a","chunk_size":0,"readers":-1,"state":"queued","tables":[]}]}`,
		`{"v":1,"requests":[{"id":"a","chunk_size":16,"readers":1,"state":"running","tables":[{"table":"a.b","state":"running","ranges":[null]}]}]}`,
		`{"v":2}`, `{"v":1,"allow_list":null}`, `{}`, `null`, `[]`, ``, `{"v":1,"requests":[{"created_at":"99999-01-01T00:00:00Z"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := NewMerger(change.FlavorMariaDB, "s1", b, 0, nil)
		if err != nil {
			if !errors.Is(err, ErrCorruptProgress) {
				t.Fatalf("refused with %v, not ErrCorruptProgress", err)
			}
			return
		}
		r, err := NewRunner(Config{}, "s1", Source{Flavor: change.FlavorMariaDB}, m, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Status()
		r.Active()
		m.View(func(p *Progress) {
			for _, req := range p.Requests {
				req.active()
				req.finished()
				for _, tp := range req.Tables {
					p.table(req.ID, tp.Table)
					for _, rg := range tp.Ranges {
						for _, k := range append(rg.After, rg.Through...) {
							_ = k.String()
							_ = k.Param()
						}
					}
				}
			}
		})
		m.Update(func(*Progress) {}) // prune and encode
		doc := m.Progress()
		m2, err := NewMerger(change.FlavorMariaDB, "s1", doc, 0, nil)
		if err != nil {
			t.Fatalf("%q re-encodes as %q, which is refused: %v", b, doc, err)
		}
		if again := m2.Progress(); !bytes.Equal(again, doc) || (len(doc) > 0 && !json.Valid(doc)) {
			t.Fatalf("%q -> %q -> %q", b, doc, again)
		}
	})
}
