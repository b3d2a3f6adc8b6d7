package main

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// The large-record scenario's pure parts: which rows are large and how big,
// how they are grouped into statements, their bytes, which offloaded rows
// the verification decodes, and the daemon's claim-check metrics.

// docPlan is the rows of one variant: Sizes[i] is the body of id i+1 in
// bytes, Stmts the statements that write them (ranges of ids, in order).
type docPlan struct {
	Sizes []int
	Stmts []idRange
}

// idRange is the ids First..Last (inclusive), written by one INSERT.
type idRange struct{ First, Last int64 }

func (p docPlan) rows() int64 { return int64(len(p.Sizes)) }

// payload is the sum of the bodies' sizes.
func (p docPlan) payload() int64 {
	var n int64
	for _, s := range p.Sizes {
		n += int64(s)
	}
	return n
}

// over returns the ids whose body is at least min bytes, in id order.
func (p docPlan) over(min int) []int64 {
	var ids []int64
	for i, s := range p.Sizes {
		if s >= min {
			ids = append(ids, int64(i+1))
		}
	}
	return ids
}

// planMixed is the large variant's rows: n rows of small bytes, of which
// exactly round(n*percent/100) (ids chosen by a shuffle seeded with seed)
// get a size drawn uniformly from [minBytes, maxBytes]. Small rows are
// written txnRows to a statement (a multi-row INSERT: its own small
// transaction), a large row alone in its own.
func planMixed(n int64, percent, minBytes, maxBytes, small, txnRows int, seed uint64) docPlan {
	r := rand.New(rand.NewPCG(seed, 0x1a46e))
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = small
	}
	k := int(math.Round(float64(n) * float64(percent) / 100))
	for _, i := range r.Perm(int(n))[:min(k, int(n))] {
		sizes[i] = minBytes + r.IntN(maxBytes-minBytes+1)
	}
	return docPlan{Sizes: sizes, Stmts: groupStatements(sizes, small, txnRows)}
}

// groupStatements groups consecutive rows of at most small bytes txnRows
// to a statement; a larger row is a statement of its own.
func groupStatements(sizes []int, small, txnRows int) []idRange {
	var out []idRange
	open := false
	for i, s := range sizes {
		id := int64(i + 1)
		switch {
		case s > small:
			out, open = append(out, idRange{id, id}), false
		case open && out[len(out)-1].Last-out[len(out)-1].First+1 < int64(txnRows):
			out[len(out)-1].Last = id
		default:
			out, open = append(out, idRange{id, id}), true
		}
	}
	return out
}

// withSize is p with every body of size bytes, in the same statements: the
// same rows and transactions, none of them large.
func (p docPlan) withSize(size int) docPlan {
	sizes := make([]int, len(p.Sizes))
	for i := range sizes {
		sizes[i] = size
	}
	return docPlan{Sizes: sizes, Stmts: p.Stmts}
}

// planUniform is n rows of size bytes, one statement each.
func planUniform(n int64, size int) docPlan {
	sizes := make([]int, n)
	stmts := make([]idRange, n)
	for i := range sizes {
		sizes[i] = size
		stmts[i] = idRange{int64(i + 1), int64(i + 1)}
	}
	return docPlan{Sizes: sizes, Stmts: stmts}
}

// appendBody appends id's body: size hex digits of random bytes drawn from
// a generator seeded by seed and id (the same bytes every run). Hex of
// random bytes is half-compressible (4 bits of entropy a byte): the
// claim-check's zstd (SpeedDefault) brings 2 MiB of it to 66%, 40 MiB to
// 52%, so a body of 2 MiB or more stays above Kafka's default 1 MiB record
// limit once compressed, and is offloaded.
func appendBody(dst []byte, seed uint64, id int64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(id)))
	var raw [2048]byte
	for left := size; left > 0; {
		n := min(left, 2*len(raw))
		half := (n + 1) / 2
		for i := 0; i < half; i += 8 {
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], r.Uint64())
			copy(raw[i:half], w[:])
		}
		dst = hex.AppendEncode(dst, raw[:half])
		dst = dst[:len(dst)-(2*half-n)] // an odd size drops the last digit
		left -= n
	}
	return dst
}

// appendDocsInsert appends "INSERT INTO table (id, body) VALUES (id,
// 'hex'),..." for the ids of rg. The bodies are hex digits: no quoting.
func appendDocsInsert(b []byte, table string, rg idRange, sizes []int, seed uint64) []byte {
	b = append(b, "INSERT INTO "...)
	b = append(b, table...)
	b = append(b, " (id, body) VALUES "...)
	for id := rg.First; id <= rg.Last; id++ {
		if id > rg.First {
			b = append(b, ',')
		}
		b = append(b, '(')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, ",'"...)
		b = appendBody(b, seed, id, sizes[id-1])
		b = append(b, "')"...)
	}
	return b
}

// complementRanges is the ids 1..n except skip (ascending), as ranges.
func complementRanges(n int64, skip []int64) []idRange {
	var out []idRange
	next := int64(1)
	for _, id := range skip {
		if id > next {
			out = append(out, idRange{next, id - 1})
		}
		next = max(next, id+1)
	}
	if next <= n {
		out = append(out, idRange{next, n})
	}
	return out
}

// rangesSQL is a WHERE condition on id for rs ("FALSE" for none).
func rangesSQL(rs []idRange) string {
	if len(rs) == 0 {
		return "FALSE"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = "id BETWEEN " + strconv.FormatInt(r.First, 10) + " AND " + strconv.FormatInt(r.Last, 10)
	}
	return strings.Join(parts, " OR ")
}

// sampleIDs picks up to k of ids for a full decode: the largest and the
// smallest body, then ids spread evenly over the rest, in id order.
func sampleIDs(ids []int64, sizes []int, k int) []int64 {
	if k <= 0 || len(ids) == 0 {
		return nil
	}
	if k >= len(ids) {
		return append([]int64(nil), ids...)
	}
	size := func(id int64) int { return sizes[id-1] }
	largest, smallest := ids[0], ids[0]
	for _, id := range ids {
		if size(id) > size(largest) {
			largest = id
		}
		if size(id) < size(smallest) {
			smallest = id
		}
	}
	picked := map[int64]bool{largest: true}
	if len(picked) < k {
		picked[smallest] = true
	}
	for i := 0; len(picked) < k; i++ {
		// Evenly spaced positions; one already taken moves to the next free.
		pos := int(float64(i) * float64(len(ids)) / float64(k))
		for picked[ids[pos%len(ids)]] {
			pos++
		}
		picked[ids[pos%len(ids)]] = true
	}
	out := make([]int64, 0, k)
	for _, id := range ids {
		if picked[id] {
			out = append(out, id)
		}
	}
	return out
}

// claimMetrics is the daemon's claim-check metrics at one moment, summed
// over shards (GET /metrics): records by form, their bytes before and after,
// the store-latency histogram of offloaded records, and store errors.
type claimMetrics struct {
	Forms       map[string]float64 // compressed, offloaded
	Bytes       map[string]float64 // "<form>/<side>", side before|after
	Buckets     []histBucket       // cumulative, by upper bound
	StoreCount  float64
	StoreSum    float64
	StoreErrors float64
}

type histBucket struct {
	LE    float64 // upper bound, +Inf for the last
	Count float64 // observations <= LE
}

// parseClaimMetrics reads the tidemark_largerecord_* series out of a
// Prometheus text exposition.
func parseClaimMetrics(text string) claimMetrics {
	m := claimMetrics{Forms: map[string]float64{}, Bytes: map[string]float64{}}
	buckets := map[float64]float64{}
	for _, line := range strings.Split(text, "\n") {
		name, labels, v, ok := parsePromLine(line)
		if !ok {
			continue
		}
		switch name {
		case "tidemark_largerecord_records_total":
			m.Forms[labels["form"]] += v
		case "tidemark_largerecord_bytes_total":
			m.Bytes[labels["form"]+"/"+labels["side"]] += v
		case "tidemark_largerecord_store_seconds_bucket":
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err == nil {
				buckets[le] += v
			}
		case "tidemark_largerecord_store_seconds_count":
			m.StoreCount += v
		case "tidemark_largerecord_store_seconds_sum":
			m.StoreSum += v
		case "tidemark_largerecord_store_errors_total":
			m.StoreErrors += v
		}
	}
	for le, n := range buckets {
		m.Buckets = append(m.Buckets, histBucket{le, n})
	}
	sort.Slice(m.Buckets, func(i, j int) bool { return m.Buckets[i].LE < m.Buckets[j].LE })
	return m
}

// parsePromLine splits `name{k="v",...} value [timestamp]`; comments and
// blank lines are not samples.
func parsePromLine(line string) (name string, labels map[string]string, v float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	labels = map[string]string{}
	rest := line
	if i := strings.IndexAny(line, "{ "); i < 0 {
		return "", nil, 0, false
	} else {
		name, rest = line[:i], line[i:]
	}
	if rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if rest == "" {
				return "", nil, 0, false
			}
			if rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				return "", nil, 0, false
			}
			key := rest[:eq]
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for i := 0; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					i++
					switch rest[i] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[i])
					}
					continue
				}
				if c == '"' {
					rest, closed = rest[i+1:], true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return "", nil, 0, false
			}
			labels[key] = val.String()
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", nil, 0, false
	}
	return name, labels, v, true
}

// sub is m less an earlier sample of the same process.
func (m claimMetrics) sub(before claimMetrics) claimMetrics {
	out := claimMetrics{Forms: map[string]float64{}, Bytes: map[string]float64{},
		StoreCount: m.StoreCount - before.StoreCount, StoreSum: m.StoreSum - before.StoreSum, StoreErrors: m.StoreErrors - before.StoreErrors}
	for k, v := range m.Forms {
		out.Forms[k] = v - before.Forms[k]
	}
	for k, v := range m.Bytes {
		out.Bytes[k] = v - before.Bytes[k]
	}
	prev := map[float64]float64{}
	for _, b := range before.Buckets {
		prev[b.LE] = b.Count
	}
	for _, b := range m.Buckets {
		out.Buckets = append(out.Buckets, histBucket{b.LE, b.Count - prev[b.LE]})
	}
	return out
}

// histQuantile estimates the q-quantile of a cumulative histogram the way
// Prometheus's histogram_quantile does: linear interpolation inside the
// bucket holding the rank (from 0 for the first bucket); a rank in the +Inf
// bucket gives the highest finite bound. NaN without observations.
func histQuantile(q float64, buckets []histBucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range buckets {
		if b.Count >= rank {
			if math.IsInf(b.LE, 1) {
				if i == 0 {
					return math.NaN()
				}
				return buckets[i-1].LE
			}
			if b.Count == below {
				return b.LE
			}
			return lower + (b.LE-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.LE, b.Count
	}
	return buckets[len(buckets)-1].LE
}
