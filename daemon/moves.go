package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Rows that move between shards (topics.rows_move_between_shards).
//
// Resharding tools copy a row to its new shard, then delete it on the old
// one. With keys made of the primary key alone, both shards write the same
// Kafka key, and the old shard's delete and tombstone would remove the live
// row from the merged topic whenever they land after the new shard's insert
// (which they usually do). So, before a shard writes a batch's deletes, the
// moveChecker asks every other shard that captures the same logical table
// (same topic) whether it holds those keys; a delete of a key another shard
// holds is a move, and is not written: the other shard's records are the
// row's history from then on.
//
// Cost: per batch of events that contains deletes (at most encodeBatch
// events), one indexed point query per other shard and table, for up to
// moveProbeChunk keys each. A fleet of N shards pays N-1 queries per such
// batch; shards that delete little pay little. A shard that cannot be asked
// fails the batch (class mysql, retried): the deletes wait rather than risk
// killing a moved row.
//
// It relies on the tools' order (copy, then delete). A key held by two
// shards at once for any other reason is not a move: such tables need
// encoding.key_shard_field instead, which makes every shard's keys distinct
// (and this check unnecessary: it is skipped then).

// moveProbeChunk bounds the keys of one probe query.
const moveProbeChunk = 500

// moveDBsTTL is how long the physical databases holding a logical table on a
// shard are cached: a database created later is found within this time.
const moveDBsTTL = time.Minute

// moveChecker is shared by every shard's pipeline of a daemon.
type moveChecker struct {
	namer  *router.TopicNamer
	shards map[string]*moveShard
	log    *slog.Logger
	moved  *prometheus.CounterVec // by deleting shard
	probes *prometheus.CounterVec // by asked shard

	mu          sync.Mutex
	unsupported map[string]bool // topics whose key types cannot be probed (warned once)
}

// moveShard is one shard as other shards ask it.
type moveShard struct {
	name   string
	filter *tableFilter

	mu   sync.Mutex // one query at a time on conn
	conn *mysql.Conn
	dbs  map[string]cachedDBs // topic → physical databases holding its table
}

type cachedDBs struct {
	dbs []string
	at  time.Time
}

func newMoveChecker(namer *router.TopicNamer, log *slog.Logger, reg prometheus.Registerer) *moveChecker {
	m := &moveChecker{
		namer: namer, shards: map[string]*moveShard{}, log: log, unsupported: map[string]bool{},
		moved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_moved_rows_total",
			Help: "Deletes not written because another shard holds the key (topics.rows_move_between_shards): rows moved away from this shard. A rise outside a resharding means duplicate primary keys across shards (use encoding.key_shard_field).",
		}, []string{"shard"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidemark_move_probes_total",
			Help: "Queries asking this shard whether it holds keys another shard deleted (the cost of topics.rows_move_between_shards).",
		}, []string{"shard"}),
	}
	reg.MustRegister(m.moved, m.probes)
	return m
}

func (m *moveChecker) addShard(name string, filter *tableFilter, conn mysql.ConnConfig) {
	m.shards[name] = &moveShard{name: name, filter: filter, conn: mysql.NewConn(conn), dbs: map[string]cachedDBs{}}
}

// setFilter replaces a shard's allow-list (a reload).
func (m *moveChecker) setFilter(name string, f *tableFilter) {
	if s := m.shards[name]; s != nil {
		s.mu.Lock()
		s.filter, s.dbs = f, map[string]cachedDBs{}
		s.mu.Unlock()
	}
}

func (m *moveChecker) close() {
	for _, s := range m.shards {
		s.mu.Lock()
		s.conn.Close()
		s.mu.Unlock()
	}
}

// movedAway returns the indexes, among evs (deletes of one table of shard
// from, written to topic), of the deletes whose key another shard holds.
func (m *moveChecker) movedAway(ctx context.Context, from, topic string, t *schema.Table, evs []*change.Event) (map[int]bool, error) {
	if !m.probeable(topic, t) {
		return nil, nil
	}
	keys := make([][]string, len(evs))
	for i, ev := range evs {
		keys[i] = keyText(t, ev.Before)
	}
	out := map[int]bool{}
	for name, s := range m.shards {
		if name == from {
			continue
		}
		held, err := s.holds(ctx, m, topic, t, keys)
		if err != nil {
			return nil, inStage(stageBinlog, fmt.Errorf("ask shard %s whether it holds %d keys shard %s deleted from %s (topics.rows_move_between_shards): %w",
				name, len(keys), from, topic, err))
		}
		for i := range held {
			out[i] = true
		}
	}
	if len(out) > 0 {
		m.moved.WithLabelValues(from).Add(float64(len(out)))
	}
	return out, nil
}

// probeable reports whether t's key can be compared as text (warning once
// per topic when not: its deletes are then written as they are).
func (m *moveChecker) probeable(topic string, t *schema.Table) bool {
	for _, i := range t.PrimaryKey {
		switch t.Columns[i].Type {
		case schema.TypeTinyInt, schema.TypeSmallInt, schema.TypeMediumInt, schema.TypeInt, schema.TypeBigInt,
			schema.TypeDecimal, schema.TypeChar, schema.TypeText, schema.TypeBinary, schema.TypeBlob, schema.TypeEnum, schema.TypeSet:
			continue
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.unsupported[topic] {
			m.unsupported[topic] = true
			m.log.Warn("topics.rows_move_between_shards: this table's primary key cannot be probed on other shards; its deletes are written as they are, and a row moved between shards may be lost from the topic",
				"topic", topic, "column", t.Columns[i].Name, "type", t.Columns[i].Type.String())
		}
		return false
	}
	return true
}

// keyText renders a row's primary key as the text protocol returns it.
func keyText(t *schema.Table, row change.Row) []string {
	out := make([]string, len(t.PrimaryKey))
	for j, i := range t.PrimaryKey {
		switch v := row[i].(type) {
		case int32:
			out[j] = strconv.FormatInt(int64(v), 10)
		case int64:
			out[j] = strconv.FormatInt(v, 10)
		case uint64:
			out[j] = strconv.FormatUint(v, 10)
		case string:
			out[j] = v
		case []byte:
			out[j] = string(v)
		default:
			out[j] = fmt.Sprint(v)
		}
	}
	return out
}

// holds returns which of keys (indexes) the shard holds in topic's table.
func (s *moveShard) holds(ctx context.Context, m *moveChecker, topic string, t *schema.Table, keys [][]string) (map[int]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	dbs, err := s.databases(ctx, m.namer, topic, t.Name)
	if err != nil {
		return nil, err
	}
	held := map[int]bool{}
	if len(dbs) == 0 {
		return held, nil
	}
	index := make(map[string][]int, len(keys)) // key text → indexes of keys
	for i, k := range keys {
		j := strings.Join(k, "\x00")
		index[j] = append(index[j], i)
	}
	cols := make([]string, len(t.PrimaryKey))
	for j, i := range t.PrimaryKey {
		cols[j] = quoteIdent(t.Columns[i].Name)
	}
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	for _, db := range dbs {
		for start := 0; start < len(keys); start += moveProbeChunk {
			chunk := keys[start:min(start+moveProbeChunk, len(keys))]
			args := make([]any, 0, len(chunk)*len(cols))
			for _, k := range chunk {
				for _, v := range k {
					args = append(args, v)
				}
			}
			q := fmt.Sprintf("SELECT %s FROM %s.%s WHERE (%s) IN (%s)", strings.Join(cols, ", "), quoteIdent(db), quoteIdent(t.Name),
				strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat(tuple+",", len(chunk)), ","))
			rows, err := s.conn.Query(ctx, q, args...)
			m.probes.WithLabelValues(s.name).Inc()
			if err != nil {
				return nil, err
			}
			// The IN list matches by the column's collation ('A' = 'a' in a
			// _ci one); only an exact match is the same Kafka key.
			for _, r := range rows {
				k := make([]string, len(r))
				for i, v := range r {
					k[i] = v.S
				}
				for _, i := range index[strings.Join(k, "\x00")] {
					held[i] = true
				}
			}
		}
	}
	return held, nil
}

// databases lists the physical databases of this shard whose table `table`
// belongs to topic and is captured by the shard (cached for moveDBsTTL).
func (s *moveShard) databases(ctx context.Context, namer *router.TopicNamer, topic, table string) ([]string, error) {
	if c, ok := s.dbs[topic]; ok && time.Since(c.at) < moveDBsTTL {
		return c.dbs, nil
	}
	rows, err := s.conn.Query(ctx, "SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_NAME = ?", table)
	if err != nil {
		return nil, err
	}
	var dbs []string
	for _, r := range rows {
		db := r[0].S
		if s.filter.Allowed(db, table) && namer.Topic(db, table) == topic {
			dbs = append(dbs, db)
		}
	}
	s.dbs[topic] = cachedDBs{dbs: dbs, at: time.Now()}
	return dbs, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
