package largerecord

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

type benchInput struct {
	name string
	data []byte
}

// benchInputs are the sizes claim-checked values reach (tens of MB rows):
// text compresses like Avro of wide rows with repetitive strings, random
// like already-compressed or encrypted column data.
func benchInputs() []benchInput {
	var out []benchInput
	for _, mb := range []int{4, 40} {
		out = append(out,
			benchInput{fmt.Sprintf("text-%dMB", mb), textData(mb << 20)},
			benchInput{fmt.Sprintf("random-%dMB", mb), randomData(mb << 20)})
	}
	return out
}

// textData is log- and JSON-like text: a small vocabulary, numbers, ids.
func textData(n int) []byte {
	words := []string{"order", "customer", "status", "shipped", "pending", "amount", "EUR", "warehouse",
		"Berlin", "the", "of", "and", "note", "delivery", "address", "street", "2024-05-17T10:22:31Z"}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, n+64)
	for len(b) < n {
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(r.IntN(1_000_000)), 10)
		b = append(b, `,"text":"`...)
		for range 8 + r.IntN(16) {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = append(b, "\"}\n"...)
	}
	return b[:n]
}

func randomData(n int) []byte {
	r := rand.NewChaCha8([32]byte{7})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

func BenchmarkSeal(b *testing.B) {
	secret := []byte("bench secret")
	for _, in := range benchInputs() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				Seal(secret, testName, in.data)
			}
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	for _, in := range benchInputs() {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			var out []byte
			for b.Loop() {
				out = Compress(out[:0], in.data)
			}
			b.ReportMetric(float64(len(in.data))/float64(len(out)), "ratio")
		})
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, in := range benchInputs() {
		c := Compress(nil, in.data)
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := Decompress(c, len(in.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
