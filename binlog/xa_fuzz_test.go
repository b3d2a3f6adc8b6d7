package binlog

import (
	"encoding/binary"
	"testing"
)

// FuzzParseXAPrepare: an XA_PREPARE_LOG_EVENT's body is server bytes. The
// parser never panics nor reads past them, refuses lengths over the
// protocol's 64, and what it returns is the key the XA COMMIT / XA
// ROLLBACK query of the same XID normalises to.
func FuzzParseXAPrepare(f *testing.F) {
	// MariaDB 10.11's body for XA START 'tx2','b',7 (binlog.TestXAPrepareXID).
	f.Add([]byte{0, 7, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 't', 'x', '2', 'b'})
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 7, 0, 0, 0, 200, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		xid, ok := parseXAPrepare(data)
		if !ok {
			return
		}
		gl, bl := binary.LittleEndian.Uint32(data[5:]), binary.LittleEndian.Uint32(data[9:])
		if gl > 64 || bl > 64 || len(data) < 13+int(gl+bl) {
			t.Fatalf("accepted gtrid %d, bqual %d in %d bytes", gl, bl, len(data))
		}
		if normalizeXID(xid) != xid {
			t.Fatalf("XID %q is not normalised", xid)
		}
		for _, q := range []string{"XA COMMIT " + xid, "xa rollback  " + xid + " ;"} {
			_, rest, ok := xaVerb([]byte(q))
			if !ok || normalizeXID(string(rest)) != xid {
				t.Fatalf("%q: %q does not find the XID %q", q, rest, xid)
			}
		}
	})
}

// FuzzXAVerb: any query text: xaVerb never panics, and what it finds is the
// rest of the query after its verb.
func FuzzXAVerb(f *testing.F) {
	for _, s := range []string{"XA ROLLBACK X'747832',X'62',7", "xa commit X'747832',X'62',7", "XA COMMIT ", "XA", "", "BEGIN"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, q []byte) {
		_, rest, ok := xaVerb(q)
		if ok && (len(rest) == 0 || len(rest) >= len(q) || string(q[len(q)-len(rest):]) != string(rest)) {
			t.Fatalf("%q: rest %q", q, rest)
		}
		_ = normalizeXID(string(q))
	})
}
