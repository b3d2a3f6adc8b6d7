package daemon

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// keySorter is an external sort of (key, value) entries that keeps, for
// each key, the value added last: the state of a topic by key, or a
// table's rows by key, in bounded memory whatever their count. Entries are
// buffered up to limit bytes, then written to a temporary file as a sorted
// run; Iterate merges the runs in key order.
type keySorter struct {
	dir   string
	limit int64

	buf     []sortEntry
	bufSize int64
	seq     uint64
	runs    []string
}

type sortEntry struct {
	key, val []byte
	seq      uint64 // order of addition: the later entry of a key wins
}

func newKeySorter(dir string, limit int64) *keySorter {
	if limit <= 0 {
		limit = 64 << 20
	}
	return &keySorter{dir: dir, limit: limit}
}

// Add adds an entry; key and val are copied.
func (s *keySorter) Add(key, val []byte) error {
	e := sortEntry{key: slices.Clone(key), val: slices.Clone(val), seq: s.seq}
	s.seq++
	s.buf = append(s.buf, e)
	s.bufSize += int64(len(key)+len(val)) + 96 // the entry, and the clones' size classes
	if s.bufSize >= s.limit {
		return s.spill()
	}
	return nil
}

// sortBuf sorts the buffer by key and drops all but the last entry of each key.
func (s *keySorter) sortBuf() {
	slices.SortStableFunc(s.buf, func(a, b sortEntry) int { return bytes.Compare(a.key, b.key) })
	out := s.buf[:0]
	for i, e := range s.buf {
		if i+1 < len(s.buf) && bytes.Equal(e.key, s.buf[i+1].key) {
			continue // a later entry of the same key follows
		}
		out = append(out, e)
	}
	clear(s.buf[len(out):])
	s.buf = out
}

func (s *keySorter) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.dir, "tidemark-verify-*.run")
	if err != nil {
		return fmt.Errorf("verify: sort run: %w", err)
	}
	s.runs = append(s.runs, f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, e := range s.buf {
		n := binary.PutUvarint(hdr[:], uint64(len(e.key)))
		n += binary.PutUvarint(hdr[n:], uint64(len(e.val)))
		w.Write(hdr[:n])
		w.Write(e.key)
		w.Write(e.val)
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("verify: sort run %s: %w", f.Name(), err)
	}
	clear(s.buf)
	s.buf, s.bufSize = s.buf[:0], 0
	return nil
}

// Close removes the sorter's temporary files.
func (s *keySorter) Close() {
	for _, r := range s.runs {
		os.Remove(r)
	}
	s.runs, s.buf = nil, nil
}

// Iterator returns the entries in key order, one per key (the last added).
// Add must not be called afterwards.
func (s *keySorter) Iterator() (*sortIterator, error) {
	it := &sortIterator{}
	if len(s.runs) == 0 {
		s.sortBuf()
		it.mem = s.buf
		return it, nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	for i, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("verify: sort run: %w", err)
		}
		r := &runReader{f: f, r: bufio.NewReaderSize(f, 256<<10), run: i}
		it.files = append(it.files, r)
		if err := r.next(); err != nil {
			it.Close()
			return nil, err
		}
		if !r.done {
			it.h = append(it.h, r)
		}
	}
	heap.Init(&it.h)
	return it, nil
}

// sortIterator merges sorted runs (or walks the in-memory buffer).
type sortIterator struct {
	mem   []sortEntry
	h     runHeap
	files []*runReader
	key   []byte
	val   []byte
}

// Next advances to the next key; false at the end (or on error, see Err).
func (it *sortIterator) Next() (bool, error) {
	if it.files == nil {
		if len(it.mem) == 0 {
			return false, nil
		}
		it.key, it.val = it.mem[0].key, it.mem[0].val
		it.mem = it.mem[1:]
		return true, nil
	}
	if len(it.h) == 0 {
		return false, nil
	}
	// The smallest key; among runs holding it, the latest run wins.
	top := it.h[0]
	it.key = slices.Clone(top.key)
	best := top.run
	it.val = slices.Clone(top.val)
	for len(it.h) > 0 && bytes.Equal(it.h[0].key, it.key) {
		r := it.h[0]
		if r.run > best {
			it.val, best = slices.Clone(r.val), r.run
		}
		if err := r.next(); err != nil {
			return false, err
		}
		if r.done {
			heap.Pop(&it.h)
		} else {
			heap.Fix(&it.h, 0)
		}
	}
	return true, nil
}

// Key and Value are the current entry's; valid until the next Next.
func (it *sortIterator) Key() []byte   { return it.key }
func (it *sortIterator) Value() []byte { return it.val }

func (it *sortIterator) Close() {
	for _, r := range it.files {
		r.f.Close()
	}
	it.files, it.h, it.mem = nil, nil, nil
}

type runReader struct {
	f        *os.File
	r        *bufio.Reader
	run      int
	key, val []byte
	done     bool
}

func (r *runReader) next() error {
	kl, err := binary.ReadUvarint(r.r)
	if errors.Is(err, io.EOF) {
		r.done = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("verify: read sort run: %w", err)
	}
	vl, err := binary.ReadUvarint(r.r)
	if err != nil {
		return fmt.Errorf("verify: read sort run: %w", err)
	}
	buf := make([]byte, kl+vl)
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return fmt.Errorf("verify: read sort run: %w", err)
	}
	r.key, r.val = buf[:kl], buf[kl:]
	return nil
}

type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
