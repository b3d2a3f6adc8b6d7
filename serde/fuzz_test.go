package serde

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/tidemark-cdc/tidemark/change"
)

// fuzzSetup registers the matrix and customers schemas and returns real
// messages to seed the corpus with.
func fuzzSetup(f *testing.F) (*Decoder, [][]byte) {
	enc, reg := newTestEncoder(f, Options{})
	var seeds [][]byte
	for _, ev := range []*change.Event{
		matrixEvent(change.OpCreate, nil, matrixRowMax()),
		matrixEvent(change.OpDelete, matrixRowNulls(), nil),
		{Op: change.OpUpdate, Table: customersTable(),
			Before: change.Row{int32(1), "a", nil, "1.000", []byte{1}, 0.5},
			After:  change.Row{int32(2), "b", "c", "-2.500", nil, nil}, Source: change.Source{Thread: -1}},
	} {
		msgs, err := enc.Messages(context.Background(), nil, "fuzz.topic."+ev.Table.Name, ev, testNow)
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range msgs {
			seeds = append(seeds, m.Key, m.Value)
		}
	}
	return NewDecoder(reg, DecoderOptions{}), seeds
}

// FuzzDecode: arbitrary bytes never panic the decoder, and whatever decodes
// renders as valid JSON.
func FuzzDecode(f *testing.F) {
	dec, seeds := fuzzSetup(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{1, 2, 3, 4, 5, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := dec.Decode(context.Background(), data, data)
		if err != nil {
			return
		}
		j, err := rec.JSON()
		if err != nil || !json.Valid(j) {
			t.Fatalf("decoded record renders invalid JSON %q: %v", j, err)
		}
	})
}

// FuzzParseFrame: the framing never panics and round-trips.
func FuzzParseFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 7, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		id, body, err := ParseFrame(data)
		if err != nil {
			return
		}
		if again := append(AppendFrameHeader(nil, id), body...); !bytes.Equal(again, data) {
			t.Fatalf("frame %x re-encodes as %x", data, again)
		}
	})
}

// FuzzDecimalText: whatever the encoder accepts equals Java's
// BigInteger.toByteArray of the value.
func FuzzDecimalText(f *testing.F) {
	for _, s := range []string{"0", "-12.340", "99999999999999999999.5", "+.5", "1.", "-0.000"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, scale uint8) {
		sc := int(scale % 31)
		got, err := appendDecimalText(nil, s, sc)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("encoder accepted %q, big.Rat does not", s)
		}
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)))
		if !r.IsInt() {
			t.Fatalf("%q at scale %d is not an integer after scaling", s, sc)
		}
		if want := appendBytes(nil, javaBytes(r.Num())); !bytes.Equal(got, want) {
			t.Fatalf("%q scale %d: %x, want %x", s, sc, got, want)
		}
	})
}
