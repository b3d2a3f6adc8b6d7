package change

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzUnmarshalPosition: a position read back from Kafka's positions topic
// is untrusted bytes. UnmarshalPosition never panics, returns the zero
// position with an error, and what it accepts is a position whose Marshal
// is a fixed point (marshal, unmarshal, marshal gives the same bytes).
func FuzzUnmarshalPosition(f *testing.F) {
	for _, s := range []string{
		// As router.Writer stores them (MariaDB 10.11 and MySQL 8.4 shards of the stack).
		`{"flavor":"mariadb","gtid_set":"0-1-42,1-2-7","file":"mariadb-bin.000003","pos":1849}`,
		`{"flavor":"mariadb","gtid_set":"","file":"mariadb-bin.000001","pos":329,"server_id":1}`,
		`{"flavor":"mysql","gtid_set":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7","file":"binlog.000002","pos":157}`,
		`{"flavor":"mariadb","gtid_set":"0-1-9","snapshot":{"v":1,"requests":[{"id":"s-1","state":"running","chunk_size":16,"readers":1,"tables":[]}]}}`,
		`{"flavor":"mariadb","gtid_set":"0-1-9","xa_prepared":{"X'31',X'',1":"0-1-8"}}`,
		`{"flavor":"oracle","gtid_set":"x"}`, `{"flavor":"mysql","pos":-1}`, `null`, `{}`, `[]`, ``,
		`{"flavor":"mysql","snapshot":nul}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalPosition(b)
		if err != nil {
			if !reflect.DeepEqual(p, Position{}) {
				t.Fatalf("error %v with position %+v", err, p)
			}
			return
		}
		if p.Flavor != FlavorMySQL && p.Flavor != FlavorMariaDB {
			t.Fatalf("accepted flavor %q", p.Flavor)
		}
		once, err := p.Marshal()
		if err != nil {
			t.Fatalf("accepted %q, which does not marshal: %v", b, err)
		}
		q, err := UnmarshalPosition(once)
		if err != nil {
			t.Fatalf("%q marshals as %q, which does not unmarshal: %v", b, once, err)
		}
		twice, err := q.Marshal()
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("%q -> %q -> %q (%v)", b, once, twice, err)
		}
		_ = p.String()
	})
}

// FuzzPositionRoundTrip: every position the daemon can write reads back
// equal (Unmarshal(Marshal(p)) == p).
func FuzzPositionRoundTrip(f *testing.F) {
	f.Add(true, "0-1-42,1-2-7", "mariadb-bin.000003", uint64(1849), uint32(0), `{"v":1}`)
	f.Add(true, "0-1-1", "", uint64(0), uint32(0), `{"where":"a < 5 && b > 2"}`)
	f.Add(false, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "binlog.000002", uint64(157), uint32(7), ``)
	f.Fuzz(func(t *testing.T, maria bool, gtids, file string, pos uint64, server uint32, snap string) {
		if !utf8.ValidString(gtids) || !utf8.ValidString(file) {
			return // JSON strings are UTF-8: json.Marshal replaces invalid bytes
		}
		p := Position{Flavor: FlavorMySQL, GTIDSet: gtids, File: file, Pos: pos, ServerID: server}
		if maria {
			p.Flavor = FlavorMariaDB
		}
		if snap != "" {
			// json.Marshal writes a RawMessage compacted and HTML-escaped
			// ("<" as \u003c): the same document, in its stored form.
			var c, e bytes.Buffer
			if err := json.Compact(&c, []byte(snap)); err != nil {
				return
			}
			json.HTMLEscape(&e, c.Bytes())
			p.Snapshot = e.Bytes()
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		q, err := UnmarshalPosition(b)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("%+v -> %s -> %+v (%v)", p, b, q, err)
		}
	})
}
