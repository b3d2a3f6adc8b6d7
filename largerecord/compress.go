package largerecord

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// encoder is shared: EncodeAll is safe for concurrent use and keeps one
// block encoder per CPU. SpeedDefault (about zstd level 3) compresses
// multi-MB Avro and text at hundreds of MB/s; the better levels cost 2-4x
// the CPU on the hot path for a few percent, and a value that only fits
// thanks to them is too close to the limit anyway. The frame carries the
// content size (Decompress allocates once) and a checksum; an empty value
// is a frame too, so that no data at all is never valid. Frames up to the
// 8 MiB window are single-segment, larger ones use that window: the window
// never exceeds the content, which Decompress's limit relies on.
var encoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		panic(fmt.Sprintf("largerecord: zstd encoder with fixed options: %v", err))
	}
	return e
})

// decoders are pooled, one per concurrent Decompress: the output limit is
// per call (ResetWithOptions), and a shared decoder has one set of options.
// With concurrency 1 a decoder starts no goroutine, so the pool may drop one
// without closing it.
var decoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(fmt.Sprintf("largerecord: zstd decoder with fixed options: %v", err))
	}
	return d
}}

// Compress appends the zstd frame of src to dst and returns it. Safe for
// concurrent use.
func Compress(dst, src []byte) []byte {
	return encoder().EncodeAll(src, dst)
}

// Decompress returns the data of the zstd frames in src, refusing to
// produce more than maxSize bytes: a frame that declares more, or a window
// larger than maxSize, fails before anything is allocated for it, and
// decoding stops once maxSize is passed (a decompression bomb costs at most
// about maxSize of memory). Errors wrap ErrTooLarge or ErrCorrupt.
func Decompress(src []byte, maxSize int) ([]byte, error) {
	if maxSize < 0 {
		return nil, fmt.Errorf("decompress: limit %d: %w", maxSize, ErrTooLarge)
	}
	d := decoders.Get().(*zstd.Decoder)
	defer decoders.Put(d)
	// The decoder allocates a frame's declared content size up front. No
	// zstd data inflates by more than maxInflation, so a frame declaring
	// more than its bytes can hold is corrupt: refusing it bounds what a
	// forged 20-byte frame costs by its length, not by maxSize (up to a
	// GiB for a claim-checked value).
	bounded := maxSize
	if b := maxInflated(len(src)); b < bounded {
		bounded = b
	}
	// zstd's smallest window is 1 KiB, and the encoder gives exactly 1 KiB
	// of content a 2 KiB window: below that the length check after
	// decoding enforces maxSize.
	limit := uint64(max(bounded, 2<<10))
	if err := d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(limit)); err != nil {
		return nil, fmt.Errorf("decompress: set limit %d: %w", maxSize, err)
	}
	out, err := d.DecodeAll(src, nil)
	switch {
	case (errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded)) && bounded < maxSize:
		return nil, fmt.Errorf("decompress %d bytes: %w: a frame declares more than %d bytes of zstd can hold", len(src), ErrCorrupt, len(src))
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, fmt.Errorf("decompress %d bytes: %w: more than %d bytes", len(src), ErrTooLarge, maxSize)
	case err != nil:
		return nil, fmt.Errorf("decompress %d bytes: %w: %v", len(src), ErrCorrupt, err)
	case len(out) > maxSize:
		return nil, fmt.Errorf("decompress %d bytes: %w: %d bytes, more than %d", len(src), ErrTooLarge, len(out), maxSize)
	case len(src) == 0:
		// zstd reads no frames as no data; Compress never writes that.
		return nil, fmt.Errorf("decompress: %w: no data", ErrCorrupt)
	}
	return out, nil
}

// maxInflated is the most that n bytes of zstd frames can decode to. A
// block decodes to at most 128 KiB and takes at least 4 bytes (an RLE
// block: a 3-byte header and its byte), and a frame has a 6-byte header at
// least: so no more than 32 KiB per byte. Checked without overflow.
func maxInflated(n int) int {
	const perByte = 128 << 10 / 4
	if n > math.MaxInt/perByte-1 {
		return math.MaxInt
	}
	return (n + 1) * perByte
}
