package snapshot

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Merger merges chunk rows into a shard's stream, in the goroutine that
// takes the stream's events in order (the daemon's encoder). It is the DBLog
// window:
//
//  1. A chunk reader opens a window on its table (Open) before it reads the
//     low watermark: from then on the merger records the key of every stream
//     event of that table it sees (Observe). A window opened "early" only
//     records more keys than needed, which is harmless: a recorded key's
//     chunk row is dropped, and the stream event that recorded it carries
//     that key's state to Kafka anyway.
//  2. The reader runs its chunk SELECT, reads the high watermark and hands
//     the rows over (Window.Ready).
//  3. Once the stream has passed the high watermark (Due), the chunk rows
//     whose key was not recorded are emitted as op=r, right there in the
//     stream, and the window closes. Every row of the chunk was read between
//     the watermarks, so a recorded key's row may be older than a change the
//     stream emitted; an unrecorded one cannot be.
//
// So an emitted snapshot row is never older than a change of its key already
// emitted, every stream event is still emitted, and nothing is locked.
//
// Progress (what the position stores) changes only in Due and in the
// request changes the Runner makes, under the merger's lock, so the position
// written with each batch (Progress) matches the records written before it.
type Merger struct {
	flavor   change.Flavor
	maxKeys  int
	wake     func() // wakes the stream goroutine when a chunk is ready
	shard    string
	nowFunc  func() time.Time
	nWindows atomic.Int32 // open windows: Observe's fast path

	// signalTable is the signal table of the signal-table watermarks
	// (lower-case db.table, "" for GTID watermarks); signals are the
	// watermark ids its rows showed in the stream while windows were open.
	signalTable string
	signals     map[string]bool

	mu       sync.Mutex
	windows  map[string][]*Window // "db.table" (lower case) → open windows
	progress *Progress
	doc      json.RawMessage // progress as JSON, cached until it changes
	changed  chan struct{}   // closed and replaced whenever progress changes
}

// NewMerger starts from the progress stored with the shard's position.
func NewMerger(flavor change.Flavor, shard string, stored json.RawMessage, maxWindowKeys int, wake func()) (*Merger, error) {
	p, err := parseProgress(stored)
	if err != nil {
		return nil, err
	}
	if maxWindowKeys <= 0 {
		maxWindowKeys = DefaultMaxWindowKeys
	}
	if wake == nil {
		wake = func() {}
	}
	m := &Merger{flavor: flavor, shard: shard, maxKeys: maxWindowKeys, wake: wake, nowFunc: time.Now,
		windows: map[string][]*Window{}, progress: p, changed: make(chan struct{})}
	m.encode()
	return m, nil
}

// Window is one chunk's window. Its reader waits on Done for the outcome.
type Window struct {
	m        *Merger
	table    string // lower-case db.table
	opened   time.Time
	keys     map[string]struct{}
	overflow bool

	ready  bool
	high   string // GTID set of the high watermark, or
	signal string // the id of the high watermark's signal row
	rows   []change.Event
	apply  func(p *Progress, emitted, superseded int) // the chunk's progress, applied when emitted
	done   chan WindowResult
}

// WindowResult is what became of a chunk.
type WindowResult struct {
	Emitted, Superseded int
	// Retry: the window recorded more keys than it may (a very busy table):
	// nothing was emitted, read the chunk again.
	Retry  bool
	Window time.Duration // open → emitted
}

// Open opens a window on db.table; call it before reading the low
// watermark.
func (m *Merger) Open(db, table string) *Window {
	w := &Window{m: m, table: strings.ToLower(db + "." + table), opened: m.nowFunc(), keys: map[string]struct{}{}, done: make(chan WindowResult, 1)}
	m.mu.Lock()
	m.windows[w.table] = append(m.windows[w.table], w)
	m.mu.Unlock()
	m.nWindows.Add(1)
	return w
}

// Ready hands the chunk's rows (op=r events of the table) and its high
// watermark to the merger. apply is called with the progress document, under
// the merger's lock, when the chunk is emitted (to move the range's key and
// counters): it must only update that document. rows is handed over: the
// merger filters it in place and Due returns it, so the caller must not
// touch it again.
func (w *Window) Ready(high change.Position, rows []change.Event, apply func(p *Progress, emitted, superseded int)) {
	w.m.mu.Lock()
	w.ready, w.high, w.rows, w.apply = true, high.GTIDSet, rows, apply
	w.m.mu.Unlock()
	w.m.wake()
}

// ReadySignal is Ready for signal-table watermarks: the chunk is due once
// the stream shows the signal row whose id is signal.
func (w *Window) ReadySignal(signal string, rows []change.Event, apply func(p *Progress, emitted, superseded int)) {
	w.m.mu.Lock()
	w.ready, w.signal, w.rows, w.apply = true, signal, rows, apply
	w.m.mu.Unlock()
	w.m.wake()
}

// UseSignalTable switches the merger to signal-table watermarks on db.table
// (its rows' id column names the watermark).
func (m *Merger) UseSignalTable(db, table string) {
	m.mu.Lock()
	m.signalTable, m.signals = strings.ToLower(db+"."+table), map[string]bool{}
	m.mu.Unlock()
}

// IsSignal reports whether ev is a row of the signal table (the encoder does
// not write those).
func (m *Merger) IsSignal(ev *change.Event) bool {
	return m.signalTable != "" && strings.EqualFold(ev.Source.Database+"."+ev.Source.Table, m.signalTable)
}

// Done delivers the chunk's outcome once, after Ready.
func (w *Window) Done() <-chan WindowResult { return w.done }

// Close abandons a window that will not be made Ready (the chunk failed or
// was cancelled).
func (w *Window) Close() {
	w.m.mu.Lock()
	removed := w.m.remove(w)
	w.m.mu.Unlock()
	if removed {
		w.m.nWindows.Add(-1)
	}
}

// remove drops w from the open windows; called with m.mu held.
func (m *Merger) remove(w *Window) bool {
	ws := m.windows[w.table]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(m.windows, w.table)
			} else {
				m.windows[w.table] = ws
			}
			return true
		}
	}
	return false
}

// Observe records the keys a stream event changes in the windows open on its
// table. Without an open window it costs an atomic load.
func (m *Merger) Observe(ev *change.Event) {
	if m.nWindows.Load() == 0 || ev.Table == nil || ev.Op == change.OpCheckpoint || ev.Op == change.OpRead {
		return
	}
	t := strings.ToLower(ev.Source.Database + "." + ev.Source.Table)
	m.mu.Lock()
	defer m.mu.Unlock()
	if t == m.signalTable && ev.After != nil {
		if i := ev.Table.ColumnIndex("id"); i >= 0 {
			if id, ok := ev.After[i].(string); ok && strings.HasSuffix(id, highSuffix) {
				m.signals[id] = true
			}
		}
		return
	}
	ws := m.windows[t]
	if len(ws) == 0 {
		return
	}
	for _, row := range [2]change.Row{ev.Before, ev.After} {
		if row == nil {
			continue
		}
		k := KeyString(ev.Table, row)
		for _, w := range ws {
			if w.overflow {
				continue
			}
			w.keys[k] = struct{}{}
			if len(w.keys) > m.maxKeys {
				w.overflow, w.keys = true, nil
			}
		}
	}
}

// Due returns the rows of every ready window whose high watermark the stream
// position at has reached, minus the rows the stream superseded, as op=r
// events to write after the events seen so far; it applies their progress.
func (m *Merger) Due(at change.Position) ([]change.Event, error) {
	if m.nWindows.Load() == 0 || at.IsZero() {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []change.Event
	changed := false
	for _, ws := range m.windows {
		for _, w := range ws {
			if !w.ready {
				continue
			}
			if w.signal != "" {
				if !m.signals[w.signal] {
					continue
				}
				delete(m.signals, w.signal)
			} else {
				ok, err := mysql.Reached(m.flavor, at.GTIDSet, w.high)
				if err != nil {
					return nil, fmt.Errorf("snapshot: compare the stream position with a chunk's high watermark: %w", err)
				}
				if !ok {
					continue
				}
			}
			res := WindowResult{Window: m.nowFunc().Sub(w.opened)}
			if w.overflow {
				res.Retry = true
			} else {
				// Filter in place; the rows are the chunk reader's, handed over.
				kept := w.rows[:0]
				var buf [64]byte
				for i := range w.rows {
					ev := &w.rows[i]
					if len(w.keys) > 0 {
						if _, superseded := w.keys[string(AppendKey(buf[:0], ev.Table, ev.After))]; superseded {
							res.Superseded++
							continue
						}
					}
					ev.Source.File, ev.Source.Pos = at.File, at.Pos
					kept = append(kept, *ev)
				}
				res.Emitted = len(kept)
				if out == nil {
					out = kept
				} else {
					out = append(out, kept...)
				}
				w.apply(m.progress, res.Emitted, res.Superseded)
				changed = true
			}
			w.rows = nil
			defer func(w *Window) { // after the loop: m.windows is being ranged over
				if m.remove(w) {
					m.nWindows.Add(-1)
				}
				w.done <- res
			}(w)
		}
	}
	if changed {
		m.encode()
	}
	return out, nil
}

// Progress is the progress document to store with the position of the
// records written so far.
func (m *Merger) Progress() json.RawMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.doc
}

// Update changes the progress document (a new, paused, resumed, cancelled or
// finished request) under the merger's lock; the position written next
// carries it. fn must only change the document.
func (m *Merger) Update(fn func(p *Progress)) {
	m.mu.Lock()
	fn(m.progress)
	m.progress.prune()
	m.encode()
	m.mu.Unlock()
	m.wake()
}

// View calls fn with the progress document under the merger's lock; fn must
// not keep or change it.
func (m *Merger) View(fn func(p *Progress)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(m.progress)
}

// Changed is closed when the progress changes next.
func (m *Merger) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// encode refreshes the cached JSON; called with m.mu held.
func (m *Merger) encode() {
	if len(m.progress.Requests) == 0 && len(m.progress.AllowList) == 0 {
		m.doc = nil
	} else {
		b, err := json.Marshal(m.progress)
		if err != nil {
			panic(fmt.Sprintf("snapshot: encode progress: %v", err)) // a bug: the document is plain data
		}
		m.doc = b
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// KeyString renders a row's primary key as an exact, type-tagged string: the
// identity of a Kafka key (two rows have equal strings iff their canonical
// key values are equal).
func KeyString(t *schema.Table, row change.Row) string {
	var buf [64]byte
	return string(AppendKey(buf[:0], t, row))
}

// AppendKey appends KeyString's bytes to dst: a map lookup by
// string(AppendKey(...)) on a stack buffer does not allocate.
func AppendKey(dst []byte, t *schema.Table, row change.Row) []byte {
	for j, i := range t.PrimaryKey {
		if j > 0 {
			dst = append(dst, 0)
		}
		if i >= len(row) {
			dst = append(dst, '?')
			continue
		}
		switch v := row[i].(type) {
		case nil:
			dst = append(dst, 'n')
		case int32:
			dst = strconv.AppendInt(append(dst, 'i'), int64(v), 10)
		case int64:
			dst = strconv.AppendInt(append(dst, 'i'), v, 10)
		case uint64:
			dst = strconv.AppendUint(append(dst, 'i'), v, 10)
		case string:
			dst = append(append(dst, 's'), v...)
		case []byte:
			dst = append(append(dst, 'b'), v...)
		case bool:
			dst = strconv.AppendBool(dst, v)
		case float32:
			dst = strconv.AppendUint(append(dst, 'f'), uint64(math.Float32bits(v)), 16)
		case float64:
			dst = strconv.AppendUint(append(dst, 'f'), math.Float64bits(v), 16)
		default:
			dst = fmt.Appendf(dst, "%T:%v", v, v)
		}
	}
	return dst
}

// highSuffix ends the id of a high-watermark signal row.
const highSuffix = ":high"
