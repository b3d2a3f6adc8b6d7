package mysql

import (
	"encoding/hex"
	"net/netip"
	"testing"
)

// TestFormatInet6 uses MariaDB 10.11's own output as the expectation:
//
//	SELECT CAST('::1.2.3.4' AS INET6), CAST('1:0:1:1:1:1:1:1' AS INET6), ...
//
// MariaDB compresses even a single zero group and prints IPv4-compatible and
// IPv4-mapped addresses in dotted form, unlike RFC 5952 and Go's netip.
func TestFormatInet6(t *testing.T) {
	tests := map[string]string{
		"00000000000000000000000001020304": "::1.2.3.4",
		"00000000000000000000ffff01020304": "::ffff:1.2.3.4",
		"00010000000000010000000000000001": "1:0:0:1::1",
		"00010000000000000002000000000003": "1::2:0:0:3",
		"00000000000000000000000000000000": "::",
		"00000000000000000000000000000001": "::1",
		"00000000000000000000000100000000": "::1:0:0",
		"00000000000000000000ffff00000000": "::ffff:0.0.0.0",
		"00010000000000000000000000000000": "1::",
		"0000000000000000000000000000000a": "::a",
		"00000000000000000000ffff00000001": "::ffff:0.0.0.1",
		"00010000000100010001000100010001": "1::1:1:1:1:1:1",
		"00010000000000010000000000010001": "1::1:0:0:1:1",
		"00000000000100010001000100000000": "::1:1:1:1:0:0",
		"00010001000100010001000100010000": "1:1:1:1:1:1:1::",
		"00000001000100010001000100010001": "::1:1:1:1:1:1:1",
		"00000000000000000000ffff00010002": "::ffff:0.1.0.2",
		"abcd00000000000000000000000000ef": "abcd::ef",
		"00000000000000000000000000010000": "::0.1.0.0",
		"0000000000000000000000000000ffff": "::ffff",
		"00000000000000000001ffff00010001": "::1:ffff:1:1",
		"20010db8000000000000ff0000428329": "2001:db8::ff00:42:8329",
		"ffffffffffffffffffffffffffffffff": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	}
	for in, want := range tests {
		b, _ := hex.DecodeString(in)
		if got := formatInet6(b); got != want {
			t.Errorf("formatInet6(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatUUIDAndInet4(t *testing.T) {
	b, _ := hex.DecodeString("6ccd780cbaba102695645b8c656024db")
	if got := formatUUID(b); got != "6ccd780c-baba-1026-9564-5b8c656024db" {
		t.Errorf("formatUUID = %s", got)
	}
	if got := formatInet4([]byte{255, 0, 10, 1}); got != "255.0.10.1" {
		t.Errorf("formatInet4 = %s", got)
	}
	if UUIDVerified(10, 10) || !UUIDVerified(10, 11) || !UUIDVerified(11, 4) {
		t.Errorf("UUIDVerified gate")
	}
}

// FuzzFormatInet6: whatever the bytes, the text parses back to them.
func FuzzFormatInet6(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x01\x02\x03\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 16 {
			return
		}
		s := formatInet6(b[:16])
		a, err := netip.ParseAddr(s)
		if err != nil {
			t.Fatalf("formatInet6(%x) = %q: %v", b[:16], s, err)
		}
		if got := a.As16(); string(got[:]) != string(b[:16]) {
			t.Fatalf("formatInet6(%x) = %q parses back to %x", b[:16], s, got)
		}
	})
}
