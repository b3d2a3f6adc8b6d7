package largerecord

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
)

func TestCompressRoundTrip(t *testing.T) {
	text := textData(9 << 20)
	for _, data := range [][]byte{{}, []byte("x"), text[:1000], text[:5<<20], text, randomData(1 << 20)} {
		c := Compress(nil, data)
		got, err := Decompress(c, len(data)) // the limit is inclusive
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: Decompress = %d bytes, %v", len(data), len(got), err)
		}
	}
	if c := Compress(nil, text); len(c) > len(text)/3 {
		t.Errorf("text compressed to %d of %d bytes", len(c), len(text))
	}
}

func TestCompressAppendsToDst(t *testing.T) {
	c := Compress([]byte("head"), []byte("value"))
	if !bytes.HasPrefix(c, []byte("head")) {
		t.Fatalf("dst not kept: %q", c)
	}
	if got, err := Decompress(c[4:], 100); err != nil || string(got) != "value" {
		t.Fatalf("Decompress = %q, %v", got, err)
	}
}

// The limit holds whether the frame declares its size or not, and for
// tiny limits below zstd's 1 KiB window.
func TestDecompressLimit(t *testing.T) {
	data := textData(3 << 20)
	c := Compress(nil, data)
	for _, limit := range []int{len(data) - 1, 1 << 20, 1000, 1} {
		if got, err := Decompress(c, limit); !errors.Is(err, ErrTooLarge) || got != nil {
			t.Errorf("limit %d: %d bytes, %v; want ErrTooLarge", limit, len(got), err)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := Decompress(c, limit); !errors.Is(err, ErrTooLarge) {
			t.Errorf("limit %d: %v; want ErrTooLarge", limit, err)
		}
	}
	small := Compress(nil, []byte("0123456789"))
	if _, err := Decompress(small, 9); !errors.Is(err, ErrTooLarge) {
		t.Errorf("10 bytes under a 9-byte limit: %v", err)
	}
	// A bomb without a declared size: a stream of frames of 1 MiB zeros.
	bomb := make([]byte, 0)
	for range 64 {
		bomb = Compress(bomb, make([]byte, 1<<20))
	}
	if _, err := Decompress(bomb, 8<<20); !errors.Is(err, ErrTooLarge) {
		t.Errorf("64 MiB in %d bytes of frames under an 8 MiB limit: %v", len(bomb), err)
	}
}

func TestDecompressCorrupt(t *testing.T) {
	c := Compress(nil, textData(100_000))
	flipped := bytes.Clone(c)
	flipped[len(flipped)-2] ^= 0xff // the checksum
	for name, src := range map[string][]byte{
		"empty": nil, "not zstd": []byte("plain text, not a frame"), "truncated": c[:len(c)/2], "checksum": flipped,
	} {
		if got, err := Decompress(src, 1<<20); !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("%s: %d bytes, %v; want ErrCorrupt", name, len(got), err)
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			data := textData(200_000 + i)
			for range 5 {
				got, err := Decompress(Compress(nil, data), len(data))
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The most compressible values (zeros, one repeated byte) still inflate:
// the bound on what a frame may declare is above what zstd can reach.
func TestDecompressMostCompressible(t *testing.T) {
	for _, n := range []int{1 << 10, 1 << 20, 9 << 20, 64 << 20} {
		src := bytes.Repeat([]byte{'a'}, n)
		c := Compress(nil, src)
		out, err := Decompress(c, n)
		if err != nil || !bytes.Equal(out, src) {
			t.Fatalf("%d bytes in %d compressed: %d out, %v", n, len(c), len(out), err)
		}
	}
}

// A frame whose header declares a GiB of content in a few bytes is corrupt
// (no zstd data inflates that far), refused before the decoder allocates
// the declared size: what a forged claim-checked record costs is bounded by
// its own length, even under a limit of a GiB.
func TestDecompressForgedContentSize(t *testing.T) {
	// Magic, frame header descriptor: single segment, 8-byte content size.
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0x01, 0, 0}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decompress(frame, 1<<30)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
		t.Fatalf("%d bytes allocated for a %d-byte frame", n, len(frame))
	}
}
