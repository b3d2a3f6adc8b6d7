package largerecord

import (
	"bytes"
	"strings"
	"testing"
)

// Whatever GC lists, ParseObjectName never panics, and what it accepts is
// exactly a name ObjectName makes: topic and shard escape back to the
// listed segments.
func FuzzParseObjectName(f *testing.F) {
	h := strings.Repeat("0f", 16)
	for _, s := range []string{
		"orders/shard-1/0-1-123/0-" + h,
		"t/s/3E11FA47-71CA-11E1-9E33-C80AA9429562:23/12-" + h,
		"%2E./%2E/%25/-1-" + h,
		"t/s/e/1-" + h + "/x", "../s/e/1-" + h, "t/s/e/01-" + h, "", "/", "a//b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		topic, shard, err := ParseObjectName(name)
		if err != nil {
			return
		}
		segs := strings.Split(name, "/")
		if escapeSegment(topic) != segs[0] || escapeSegment(shard) != segs[1] {
			t.Fatalf("ParseObjectName(%q) = %q, %q: not the listed segments", name, topic, shard)
		}
		if err := validName(name); err != nil {
			t.Fatalf("accepted a name the stores refuse: %v", err)
		}
	})
}

// Bytes from a bucket are untrusted: Unseal never panics, and returns a
// plaintext only with a nil error.
func FuzzUnseal(f *testing.F) {
	obj, key := Seal([]byte("k"), testName, []byte("seed value"))
	f.Add(key, testName, obj)
	f.Add(key, testName, obj[:32])
	f.Add(key[:31], testName, obj)
	f.Add([]byte{}, "", []byte("TMC1"))
	f.Add(make([]byte, 32), "x", []byte("TMC0xxxxxxxxxxxxxxxxxxxx"))
	f.Fuzz(func(t *testing.T, key []byte, name string, object []byte) {
		plain, err := Unseal(key, name, object)
		if err != nil && plain != nil {
			t.Fatalf("error %v with %d bytes of plaintext", err, len(plain))
		}
		if err == nil && len(plain) != len(object)-32 {
			t.Fatalf("opened %d bytes into %d", len(object), len(plain))
		}
	})
}

// A pointer's object may be anything once opened: Decompress never panics
// and never returns more than the limit.
func FuzzDecompress(f *testing.F) {
	f.Add(Compress(nil, []byte("seed value, seed value, seed value")), 1000)
	f.Add(Compress(nil, make([]byte, 100_000)), 50_000)
	f.Add(Compress(nil, nil), 0)
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd}, 10) // magic only
	f.Add([]byte("not zstd"), 10)
	f.Fuzz(func(t *testing.T, src []byte, maxSize int) {
		// Limits up to the claim-check's GiB: what a frame may declare is
		// bounded by its length (maxInflated), so small inputs keep the
		// fuzzer's memory small; larger ones get a smaller limit.
		maxSize %= 1<<30 + 1
		if len(src) > 1<<12 {
			maxSize %= 1 << 22
		}
		out, err := Decompress(src, maxSize)
		if err != nil && out != nil {
			t.Fatalf("error %v with %d bytes", err, len(out))
		}
		if err == nil && (len(out) > maxSize || len(out) > maxInflated(len(src))) {
			t.Fatalf("%d bytes out of %d under a limit of %d", len(out), len(src), maxSize)
		}
	})
}

// Every value Compress writes inflates back under a limit of its own
// length, the limit the claim-check's reader uses.
func FuzzCompressRoundTrip(f *testing.F) {
	f.Add([]byte("seed value"), uint16(0))
	f.Add([]byte{'a'}, uint16(1023)) // 1 KiB of one byte: a 2 KiB window
	f.Add([]byte("0123456789"), uint16(5000))
	f.Fuzz(func(t *testing.T, unit []byte, repeat uint16) {
		src := bytes.Repeat(unit, int(repeat)+1)
		if len(src) > 1<<22 {
			return
		}
		out, err := Decompress(Compress(nil, src), len(src))
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("%d bytes: %d back, %v", len(src), len(out), err)
		}
	})
}
