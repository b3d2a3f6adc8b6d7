package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// `tidemark verify`: is each topic the latest state of its tables?
//
// For each topic, the tables that feed it (every shard's) are read in
// primary-key order, chunk by chunk (the snapshot's chunker: short SELECTs,
// no lock), and every row is encoded and decoded exactly as the daemon's
// records are; then the servers' current GTID positions are taken, the
// daemon's committed positions awaited until they include them, and the
// topic read (read_committed) to its end. Both sides go into external sorts
// by key (bounded memory whatever the table's size) and are merged.
//
// Rows change while this runs: a key that differs is a candidate, not yet
// a difference. Each recheck round reads the candidates again on every
// shard, waits for the daemon to pass the servers' new positions and reads
// what the topic gained meanwhile; a candidate that now agrees was a change
// in flight. What still differs after the last round (or once the servers
// stop moving) is reported.

// VerifyOptions tune a verification.
type VerifyOptions struct {
	Tables []string // "db.table" globs of captured tables; empty: every captured table
	Chunk  int      // rows per SELECT (default 1000)
	Rounds int      // recheck rounds for changes in flight (default 3)
	// Wait bounds how long to wait for the daemon's positions to reach the
	// servers' (default 2m); NoWait compares with what Kafka holds now (a
	// stopped daemon, or one known to be caught up).
	Wait   time.Duration
	NoWait bool
	// MaxDifferences bounds the differences kept and rechecked per topic
	// (default 1000); beyond it they are only counted.
	MaxDifferences int
	MemoryBytes    int64  // sort buffers (default 128 MiB)
	TempDir        string // sort runs (default os.TempDir())
	// OnDifference, when set, is called with every difference found.
	OnDifference func(VerifyDifference)
}

// VerifyDifference is one key whose table row and topic state disagree.
type VerifyDifference struct {
	Topic string `json:"topic"`
	// Kind: "missing" (a row the topic lacks or has deleted), "extra" (a
	// live key no shard has), "different" (values differ), "duplicate"
	// (the key is on several shards: the topic can hold only one).
	Kind    string          `json:"kind"`
	Key     json.RawMessage `json:"key"`
	Shards  []string        `json:"shards,omitempty"`  // the shards whose table has the key
	Columns []string        `json:"columns,omitempty"` // different: the differing columns
	MySQL   json.RawMessage `json:"mysql,omitempty"`   // the row, as the daemon would encode it
	Kafka   json.RawMessage `json:"kafka,omitempty"`   // the topic's latest record's after image
	// Partition and Offset locate the topic's latest record of the key
	// (Offset -1: none); KafkaShard is its source.name.
	Partition  int32  `json:"partition"`
	Offset     int64  `json:"offset"`
	KafkaShard string `json:"kafka_shard,omitempty"`
}

// VerifyTopic is one topic's result.
type VerifyTopic struct {
	Topic     string            `json:"topic"`
	Tables    []string          `json:"tables"` // shard:db.table
	Rows      int64             `json:"rows"`   // read from the tables
	Records   int64             `json:"records"`
	LiveKeys  int64             `json:"live_keys"`
	Ends      map[int32]int64   `json:"ends"`         // the topic's offsets compared against
	Positions map[string]string `json:"positions"`    // the servers' positions compared at
	Evolved   int64             `json:"evolved_rows"` // rows whose record predates a column (not compared)
	Rounds    int               `json:"rounds"`       // recheck rounds run
	Settled   int               `json:"settled"`      // candidates that turned out to be changes in flight
	Missing   int               `json:"missing"`
	Extra     int               `json:"extra"`
	Different int               `json:"different"`
	Duplicate int               `json:"duplicate"`
	Unchecked int               `json:"unchecked"` // differences beyond MaxDifferences: counted, not rechecked
	// Unsettled keys changed while every recheck read them: not compared,
	// not counted as differences.
	Unsettled int `json:"unsettled"`
}

// Differences is the number of keys that disagree.
func (t *VerifyTopic) Differences() int {
	return t.Missing + t.Extra + t.Different + t.Duplicate + t.Unchecked
}

// ErrVerifyDifferences is returned (wrapped) when any topic differs.
var ErrVerifyDifferences = errors.New("topics differ from their tables")

// verifier holds one verification's clients.
type verifier struct {
	cfg      *Config
	opts     VerifyOptions
	log      *slog.Logger
	reg      serde.Registry
	dec      *serde.Decoder
	enc      *serde.Encoder
	kafkaCfg router.Config
	adm      *kadm.Client
	admCl    *kgo.Client
	shards   []*verifyShard
}

type verifyShard struct {
	name      string
	flavor    change.Flavor
	conn      *mysql.Conn
	env       *mysql.TableEnv
	positions *router.Writer // reads the daemon's committed position; never writes
	allowed   func(db, table string) bool
	namer     *router.TopicNamer
}

type tableRef struct {
	shard int
	db    string
	table string
	t     *schema.Table
	convs []mysql.Converter
}

// Verify compares every captured table (or those opts.Tables names) with
// its topic. The error wraps ErrVerifyDifferences when any differs.
func Verify(ctx context.Context, cfg *Config, opts VerifyOptions, log *slog.Logger) ([]VerifyTopic, error) {
	if cfg.Kafka.Sink == "discard" {
		return nil, errors.New("kafka.sink is discard: there is no topic to verify")
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 1000
	}
	if opts.Rounds <= 0 {
		opts.Rounds = 3
	}
	if opts.Wait <= 0 {
		opts.Wait = 2 * time.Minute
	}
	if opts.MaxDifferences <= 0 {
		opts.MaxDifferences = 1000
	}
	if opts.MemoryBytes <= 0 {
		opts.MemoryBytes = 128 << 20
	}
	v := &verifier{cfg: cfg, opts: opts, log: log}
	defer v.close()
	if err := v.open(ctx); err != nil {
		return nil, err
	}
	topics, err := v.tables(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	var out []VerifyTopic
	differ := false
	for _, topic := range names {
		res, err := v.verifyTopic(ctx, topic, topics[topic])
		if err != nil {
			return out, fmt.Errorf("verify %s: %w", topic, err)
		}
		differ = differ || res.Differences() > 0
		out = append(out, res)
	}
	if differ {
		return out, ErrVerifyDifferences
	}
	return out, nil
}

func (v *verifier) open(ctx context.Context) error {
	regCfg, err := v.cfg.Registry.ClientConfig()
	if err != nil {
		return err
	}
	reg, err := serde.NewRegistryClient(regCfg)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	v.reg = reg
	v.dec = serde.NewDecoder(reg, serde.DecoderOptions{})
	shared := &sharedParts{registry: reg, version: "verify"}
	if v.kafkaCfg, err = v.cfg.Kafka.ClientConfig(); err != nil {
		return err
	}
	v.kafkaCfg.ClientID += "-verify"
	if v.admCl, err = kgo.NewClient(router.ClientOptions(v.kafkaCfg, v.log)...); err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	v.adm = kadm.NewClient(v.admCl)
	for _, sc := range v.cfg.Shards {
		p, err := newPipeline(v.cfg, sc, shared, nil, v.log)
		if err != nil {
			return fmt.Errorf("shard %s: %w", sc.Name, err)
		}
		if v.enc == nil {
			if v.enc, err = serde.NewEncoder(reg, p.serdeOpts); err != nil {
				return err
			}
		}
		rc := p.routerCfg
		rc.TransactionalID, rc.CommitInterval = "", 0 // reading positions must never fence the daemon's producer
		rc.ClientID += "-verify"
		w, err := router.NewWriter(rc, sc.Name, v.log, nil)
		if err != nil {
			return fmt.Errorf("shard %s: %w", sc.Name, err)
		}
		cc := p.readerCfg.ConnConfig()
		cc.Session = snapshotSession
		filter := p.readerCfg.Include
		signal := p.snapCfg.SignalTable
		v.shards = append(v.shards, &verifyShard{
			name: sc.Name, flavor: p.readerCfg.Flavor, conn: mysql.NewConn(cc), positions: w, namer: p.namer,
			env: &mysql.TableEnv{Shard: sc.Name, Flavor: p.readerCfg.Flavor},
			allowed: func(db, table string) bool {
				return (filter == nil || filter(db, table)) && !strings.EqualFold(db+"."+table, signal)
			},
		})
	}
	return nil
}

func (v *verifier) close() {
	for _, s := range v.shards {
		s.conn.Close()
		s.positions.Close()
	}
	if v.admCl != nil {
		v.admCl.Close()
	}
	if v.dec != nil {
		v.dec.Close()
	}
}

// tables lists every shard's captured base tables that match the options,
// by topic.
func (v *verifier) tables(ctx context.Context) (map[string][]*tableRef, error) {
	out := map[string][]*tableRef{}
	for i, s := range v.shards {
		if err := s.env.Load(ctx, s.conn); err != nil {
			return nil, fmt.Errorf("shard %s: %w", s.name, err)
		}
		rows, err := s.conn.Query(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'"+
			" AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2")
		if err != nil {
			return nil, fmt.Errorf("shard %s: list tables: %w", s.name, err)
		}
		for _, r := range rows {
			db, table := r[0].S, r[1].S
			if !s.allowed(db, table) || !v.wanted(db, table) {
				continue
			}
			topic := s.namer.Topic(db, table)
			out[topic] = append(out[topic], &tableRef{shard: i, db: db, table: table})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no captured table matches: check the shards' tables allow-lists and --table")
	}
	return out, nil
}

func (v *verifier) wanted(db, table string) bool {
	if len(v.opts.Tables) == 0 {
		return true
	}
	for _, p := range v.opts.Tables {
		if snapshot.MatchTable(p, db, table) {
			return true
		}
	}
	return false
}

// candidate is a key that differed: its table rows (one per shard that has
// it) and the topic's latest record.
type candidate struct {
	key    []byte // canonical JSON
	mysql  []candRow
	kafka  *kafkaState
	rawKey []byte // the topic's key bytes (to look up a key only the topic has)
	// pending are the topic's records of the key past the last round's
	// positions; moved: the key changed while the last round read it.
	pending []*kafkaState
	moved   bool
}

type candRow struct {
	shard  int
	digest rowDigest
	after  map[string]any // the row's values, when read by a recheck
}

type kafkaState struct {
	partition int32
	offset    int64
	deleted   bool
	digest    rowDigest
	shard     string // source.name
	gtid      string // source.gtid ("" for snapshot rows); rechecks only
	rawKey    []byte // rechecks only
}

func (v *verifier) verifyTopic(ctx context.Context, topic string, refs []*tableRef) (VerifyTopic, error) {
	res := VerifyTopic{Topic: topic, Ends: map[int32]int64{}, Positions: map[string]string{}}
	dir := v.opts.TempDir
	mysqlSort := newKeySorter(dir, v.opts.MemoryBytes/2)
	defer mysqlSort.Close()
	kafkaSort := newKeySorter(dir, v.opts.MemoryBytes/2)
	defer kafkaSort.Close()

	// 1. The tables, every shard's.
	var val []byte
	for _, r := range refs {
		s := v.shards[r.shard]
		res.Tables = append(res.Tables, s.name+":"+r.db+"."+r.table)
		t, convs, err := mysql.LoadTableSchema(ctx, s.conn, s.env, r.db, r.table)
		if errors.Is(err, mysql.ErrNoSuchTable) {
			continue // dropped meanwhile: its rows are gone too
		}
		if err != nil {
			return res, fmt.Errorf("shard %s table %s.%s: %w", s.name, r.db, r.table, err)
		}
		if err := snapshot.Chunkable(t); err != nil {
			return res, fmt.Errorf("shard %s: %w", s.name, err)
		}
		r.t, r.convs = t, convs
		err = snapshot.Scan(ctx, s.conn, t, convs, mysql.SelectColumns(t), v.opts.Chunk, func(ch snapshot.ScanChunk) error {
			for _, row := range ch.Rows {
				key, after, err := v.rowImage(ctx, topic, s, t, row)
				if err != nil {
					return err
				}
				val = binary.AppendUvarint(val[:0], uint64(r.shard))
				val = append(val, digestOf(after)...)
				if err := mysqlSort.Add(append(key, 0, byte(r.shard>>8), byte(r.shard)), val); err != nil {
					return err
				}
				res.Rows++
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("shard %s: %w", s.name, err)
		}
	}

	// 2. The positions the tables were read at, and the daemon past them.
	marks, err := v.currentPositions(ctx, refs)
	if err != nil {
		return res, err
	}
	if err := v.awaitDaemon(ctx, marks); err != nil {
		return res, err
	}
	for s, p := range marks {
		res.Positions[v.shards[s].name] = p.GTIDSet
	}

	// 3. The topic to its end.
	ends, err := v.stableEnds(ctx, topic)
	if err != nil {
		return res, err
	}
	res.Ends = ends
	err = v.readTopic(ctx, topic, nil, ends, func(r *kgo.Record, key []byte, st *kafkaState) error {
		res.Records++
		val = encodeKafkaState(val[:0], st, r.Key)
		return kafkaSort.Add(key, val)
	})
	if err != nil {
		return res, err
	}

	// 4. The merge.
	cands := map[string]*candidate{}
	var order []string
	unchecked := 0
	err = mergeSorted(mysqlSort, kafkaSort, func(key []byte, rows []candRow, k *kafkaState, rawKey []byte) {
		if k != nil && !k.deleted {
			res.LiveKeys++
		}
		equal, added := compareKey(rows, k)
		if added {
			res.Evolved++
		}
		if equal {
			return
		}
		if len(cands) >= v.opts.MaxDifferences {
			unchecked++
			return
		}
		c := &candidate{key: key, mysql: rows, kafka: k, rawKey: rawKey}
		cands[string(key)] = c
		order = append(order, string(key))
	})
	if err != nil {
		return res, err
	}

	// 5. Recheck rounds: what differed because it changed while we read.
	// Each round reads the candidates' rows between two readings of the
	// servers' positions (before, after) and applies to the topic's side
	// only the records of transactions the "after" position includes. A
	// key with a record between the two changed while it was read: it
	// moved, and waits for the next round; records past "after" wait too.
	before := len(cands)
	shardIndex := map[string]int{}
	for i, s := range v.shards {
		shardIndex[s.name] = i
	}
	for round := 1; round <= v.opts.Rounds && len(cands) > 0; round++ {
		res.Rounds = round
		pre, err := v.currentPositions(ctx, refs)
		if err != nil {
			return res, err
		}
		// A transaction enters gtid_binlog_pos when its binlog is written,
		// a moment before its commit is visible: the pause keeps every
		// transaction of pre visible to the lookup.
		time.Sleep(20 * time.Millisecond)
		if err := v.recheckTables(ctx, topic, refs, cands); err != nil {
			return res, err
		}
		post, err := v.currentPositions(ctx, refs)
		if err != nil {
			return res, err
		}
		if err := v.awaitDaemon(ctx, post); err != nil {
			return res, err
		}
		newEnds, err := v.stableEnds(ctx, topic)
		if err != nil {
			return res, err
		}
		from := map[int32]int64{}
		for p, e := range newEnds {
			if e > ends[p] {
				from[p] = ends[p]
			}
		}
		gained := 0
		if len(from) > 0 {
			err = v.readTopic(ctx, topic, from, newEnds, func(r *kgo.Record, key []byte, st *kafkaState) error {
				gained++
				if c := cands[string(key)]; c != nil {
					st.rawKey = slices.Clone(r.Key)
					c.pending = append(c.pending, st)
				}
				return nil
			})
			if err != nil {
				return res, err
			}
		}
		ends = newEnds
		for k, c := range cands {
			changed := false
			rest := c.pending[:0]
			for _, st := range c.pending {
				within, during := v.placeRecord(st, shardIndex, pre, post)
				if !within {
					rest = append(rest, st) // after the rows were read: next round
					continue
				}
				changed = changed || during
				c.kafka, c.rawKey = st, st.rawKey
			}
			c.pending, c.moved = rest, changed
			if changed {
				continue
			}
			if equal, _ := compareKey(c.mysql, c.kafka); equal {
				delete(cands, k)
			}
		}
		if gained == 0 && samePositions(marks, post) {
			break // nothing moved: what differs now is a difference
		}
		marks = post
	}
	// Keys that changed in every round cannot be compared now: counted
	// apart, not reported as differences.
	for k, c := range cands {
		if c.moved {
			delete(cands, k)
			res.Unsettled++
		}
	}
	res.Ends = ends
	res.Settled = before - len(cands)
	res.Unchecked = unchecked

	// 6. The report.
	for _, k := range order {
		c := cands[k]
		if c == nil {
			continue
		}
		d, err := v.difference(ctx, topic, c)
		if err != nil {
			return res, err
		}
		switch d.Kind {
		case "missing":
			res.Missing++
		case "extra":
			res.Extra++
		case "duplicate":
			res.Duplicate++
		default:
			res.Different++
		}
		if v.opts.OnDifference != nil {
			v.opts.OnDifference(d)
		}
	}
	return res, nil
}

// rowImage is a table row as the daemon writes it, decoded: its key's and
// after image's values, through the same encoder and the registry.
func (v *verifier) rowImage(ctx context.Context, topic string, s *verifyShard, t *schema.Table, row change.Row) ([]byte, map[string]any, error) {
	ev := change.Event{Op: change.OpRead, Table: t, After: row, Source: change.Source{
		Shard: s.name, Connector: string(s.flavor), Database: t.Database, Table: t.Name, Thread: -1, Snapshot: "incremental",
	}}
	msgs, err := v.enc.Messages(ctx, nil, topic, &ev, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: encode a row: %w", t.QualifiedName(), err)
	}
	if len(msgs) == 0 {
		return nil, nil, fmt.Errorf("table %s: a row encoded to no record", t.QualifiedName())
	}
	rec, err := v.dec.Decode(ctx, msgs[0].Key, msgs[0].Value)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: decode a row: %w", t.QualifiedName(), err)
	}
	return canonJSON(nil, rec.Key), rec.After, nil
}

// compareKey: the key agrees when exactly one shard has it and the topic's
// latest record is live with the same values, or no shard has it and the
// topic has none or a delete. added: the record lacks a column the row has.
func compareKey(rows []candRow, k *kafkaState) (equal, added bool) {
	live := k != nil && !k.deleted
	switch {
	case len(rows) == 0:
		return !live, false
	case len(rows) > 1 || !live:
		return false, false
	}
	return digestsMatch(rows[0].digest, k.digest)
}

func encodeKafkaState(b []byte, st *kafkaState, rawKey []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(st.partition))
	b = binary.BigEndian.AppendUint64(b, uint64(st.offset))
	flag := byte(0)
	if st.deleted {
		flag = 1
	}
	b = append(b, flag)
	b = binary.AppendUvarint(b, uint64(len(st.shard)))
	b = append(b, st.shard...)
	b = binary.AppendUvarint(b, uint64(len(rawKey)))
	b = append(b, rawKey...)
	return append(b, st.digest...)
}

func decodeKafkaState(b []byte) (*kafkaState, []byte, error) {
	bad := errors.New("verify: corrupt sort entry")
	if len(b) < 13 || b[12] > 1 {
		return nil, nil, bad
	}
	st := &kafkaState{partition: int32(binary.BigEndian.Uint32(b)), offset: int64(binary.BigEndian.Uint64(b[4:])), deleted: b[12] == 1}
	b = b[13:]
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, bad
	}
	st.shard, b = string(b[w:w+int(n)]), b[w+int(n):]
	n, w = binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, bad
	}
	raw := slices.Clone(b[w : w+int(n)])
	st.digest = rowDigest(slices.Clone(b[w+int(n):]))
	return st, raw, nil
}

// mergeSorted walks the tables' rows (keyed key+0x00+shard) and the topic's
// latest records (keyed key) in key order and calls fn once per key.
func mergeSorted(mysqlSort, kafkaSort *keySorter, fn func(key []byte, rows []candRow, k *kafkaState, rawKey []byte)) error {
	mi, err := mysqlSort.Iterator()
	if err != nil {
		return err
	}
	defer mi.Close()
	ki, err := kafkaSort.Iterator()
	if err != nil {
		return err
	}
	defer ki.Close()
	mOK, err := mi.Next()
	if err != nil {
		return err
	}
	kOK, err := ki.Next()
	if err != nil {
		return err
	}
	for mOK || kOK {
		var key []byte
		switch {
		case !kOK:
			key = mysqlKey(mi.Key())
		case !mOK:
			key = ki.Key()
		default:
			key = mysqlKey(mi.Key())
			if string(ki.Key()) < string(key) {
				key = ki.Key()
			}
		}
		key = slices.Clone(key)
		var rows []candRow
		for mOK && string(mysqlKey(mi.Key())) == string(key) {
			val := mi.Value()
			shard, w := binary.Uvarint(val)
			if w <= 0 {
				return errors.New("verify: corrupt sort entry")
			}
			rows = append(rows, candRow{shard: int(shard), digest: rowDigest(slices.Clone(val[w:]))})
			if mOK, err = mi.Next(); err != nil {
				return err
			}
		}
		var k *kafkaState
		var raw []byte
		if kOK && string(ki.Key()) == string(key) {
			if k, raw, err = decodeKafkaState(ki.Value()); err != nil {
				return err
			}
			if kOK, err = ki.Next(); err != nil {
				return err
			}
		}
		fn(key, rows, k, raw)
	}
	return nil
}

// mysqlKey strips the 0x00+shard suffix of a table-side sort key (the
// canonical JSON of a key never holds a 0x00 byte: JSON escapes it).
func mysqlKey(k []byte) []byte { return k[:len(k)-3] }

// recheckTables reads the candidates again on every shard.
func (v *verifier) recheckTables(ctx context.Context, topic string, refs []*tableRef, cands map[string]*candidate) error {
	// A key that cannot be looked up keeps what the scan read.
	saved := map[*candidate][]candRow{}
	unresolved := map[*candidate]bool{}
	for _, c := range cands {
		saved[c] = c.mysql
		c.mysql = nil
	}
	defer func() {
		for c := range unresolved {
			c.mysql = saved[c]
		}
	}()
	const batch = 200
	for _, r := range refs {
		if r.t == nil {
			continue
		}
		s := v.shards[r.shard]
		var keys []snapshot.Key
		flush := func() error {
			err := snapshot.Lookup(ctx, s.conn, r.t, r.convs, mysql.SelectColumns(r.t), keys, func(row change.Row) error {
				key, after, err := v.rowImage(ctx, topic, s, r.t, row)
				if err != nil {
					return err
				}
				if c := cands[string(key)]; c != nil {
					c.mysql = append(c.mysql, candRow{shard: r.shard, digest: digestOf(after), after: after})
				}
				return nil
			})
			keys = keys[:0]
			return err
		}
		for _, c := range cands {
			k, err := v.candidateSQLKey(ctx, r.t, c)
			if err != nil {
				v.log.Warn("verify: a key cannot be looked up in the table; the scan's reading of it stands", "topic", topic,
					"table", r.t.QualifiedName(), "key", string(c.key), "err", err)
				unresolved[c] = true
				continue
			}
			keys = append(keys, k)
			if len(keys) == batch {
				if err := flush(); err != nil {
					return fmt.Errorf("shard %s: %w", s.name, err)
				}
			}
		}
		if err := flush(); err != nil {
			return fmt.Errorf("shard %s: %w", s.name, err)
		}
	}
	return nil
}

// candidateSQLKey is the candidate's key as t's key parameters: from the
// canonical key's decoded form (the topic's key bytes when the topic has
// it, else the key decoded from its JSON).
func (v *verifier) candidateSQLKey(ctx context.Context, t *schema.Table, c *candidate) (snapshot.Key, error) {
	var key map[string]any
	if len(c.rawKey) > 0 {
		rec, err := v.dec.Decode(ctx, c.rawKey, nil)
		if err != nil {
			return nil, err
		}
		key = rec.Key
	} else if err := json.Unmarshal(c.key, &key); err != nil {
		return nil, err
	} else {
		// JSON numbers and base64 strings back into the decoder's types.
		for _, i := range t.PrimaryKey {
			col := &t.Columns[i]
			name := schema.AvroFieldName(col.Name)
			switch x := key[name].(type) {
			case float64:
				key[name] = int64(x)
			case string:
				if col.Type == schema.TypeBinary || col.Type == schema.TypeBlob {
					var b []byte
					if err := json.Unmarshal([]byte(`"`+x+`"`), &b); err != nil {
						return nil, err
					}
					key[name] = b
				}
			}
		}
	}
	return sqlKey(t, key)
}

func samePositions(a, b map[int]change.Position) bool {
	if len(a) != len(b) {
		return false
	}
	for s, p := range a {
		if b[s].GTIDSet != p.GTIDSet {
			return false
		}
	}
	return true
}

// currentPositions reads the current GTID position of each shard feeding
// the topic.
func (v *verifier) currentPositions(ctx context.Context, refs []*tableRef) (map[int]change.Position, error) {
	marks := map[int]change.Position{}
	for _, r := range refs {
		if _, ok := marks[r.shard]; ok {
			continue
		}
		s := v.shards[r.shard]
		p, err := mysql.CurrentPosition(ctx, s.conn, s.flavor)
		if err != nil {
			return nil, fmt.Errorf("shard %s: read the server's position: %w", s.name, err)
		}
		marks[r.shard] = p
	}
	return marks, nil
}

// placeRecord places a topic record of a recheck round: within, its
// transaction is included in post (the positions after the rows were read
// again); during, it is not in pre (before they were read): the key
// changed while it was read. Snapshot rows (no GTID) are always within.
func (v *verifier) placeRecord(st *kafkaState, shardIndex map[string]int, pre, post map[int]change.Position) (within, during bool) {
	i, ok := shardIndex[st.shard]
	if st.gtid == "" || !ok || post[i].GTIDSet == "" {
		return true, false
	}
	flavor := v.shards[i].flavor
	if in, err := mysql.Reached(flavor, post[i].GTIDSet, st.gtid); err != nil || !in {
		return err != nil, false
	}
	in, err := mysql.Reached(flavor, pre[i].GTIDSet, st.gtid)
	return true, err == nil && !in
}

// awaitDaemon waits until the daemon's committed position of each shard
// includes its mark.
func (v *verifier) awaitDaemon(ctx context.Context, marks map[int]change.Position) error {
	if v.opts.NoWait {
		return nil
	}
	deadline := time.Now().Add(v.opts.Wait)
	for si, mark := range marks {
		s := v.shards[si]
		if mark.GTIDSet == "" {
			v.log.Warn("verify: the server reports no GTID position; not waiting for the daemon", "shard", s.name)
			continue
		}
		for {
			at, found, err := s.positions.LoadPosition(ctx)
			if err != nil {
				return fmt.Errorf("shard %s: read the daemon's position: %w", s.name, err)
			}
			if found && at.GTIDSet != "" {
				ok, err := mysql.Reached(s.flavor, at.GTIDSet, mark.GTIDSet)
				if err != nil {
					return fmt.Errorf("shard %s: %w", s.name, err)
				}
				if ok {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("shard %s: the daemon's committed position (%s) has not reached the server's (%s) after %s: "+
					"is the daemon running and caught up? (--wait; --no-wait compares with what Kafka holds now)",
					s.name, at.GTIDSet, mark.GTIDSet, v.opts.Wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// stableEnds is the topic's end offsets once every transaction open at the
// time has ended, so a read_committed read reaches them; empty when the
// topic does not exist.
func (v *verifier) stableEnds(ctx context.Context, topic string) (map[int32]int64, error) {
	hwm, err := v.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = hwm.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	hwm.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	deadline := time.Now().Add(v.cfg.Kafka.Transactions.Timeout + time.Minute)
	for {
		lso, err := v.adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = lso.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("stable offsets of %s: %w", topic, err)
		}
		stable := true
		lso.Each(func(o kadm.ListedOffset) {
			if o.Offset < ends[o.Partition] {
				stable = false
			}
		})
		if stable {
			return ends, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("topic %s: a transaction stayed open for longer than kafka.transactions.timeout", topic)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readTopic reads the topic read_committed from from (nil: each
// partition's start) to ends and calls fn with every data record, its
// canonical key and its state.
func (v *verifier) readTopic(ctx context.Context, topic string, from, ends map[int32]int64,
	fn func(r *kgo.Record, key []byte, st *kafkaState) error) error {
	starts := map[int32]kgo.Offset{}
	left := map[int32]int64{}
	for p, e := range ends {
		start := int64(0)
		if from != nil {
			s, ok := from[p]
			if !ok {
				continue
			}
			start = s
		}
		if e > start {
			starts[p] = kgo.NewOffset().At(start)
			if from == nil {
				starts[p] = kgo.NewOffset().AtStart()
			}
			left[p] = e
		}
	}
	if len(left) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(router.ClientOptions(v.kafkaCfg, v.log),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		// Small fetches: decompressed, a fetch's records are several times
		// its bytes, and they wait in memory while the previous are decoded.
		kgo.FetchMaxBytes(1<<20), kgo.FetchMaxPartitionBytes(1<<20))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	for len(left) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		fetches := cl.PollFetches(pollCtx)
		quiet := pollCtx.Err() != nil && fetches.NumRecords() == 0
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if quiet {
			return nil // offsets below the end without records (compaction)
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return fmt.Errorf("consume %s partition %d: %w", topic, fe.Partition, fe.Err)
			}
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			end, ok := left[r.Partition]
			if ferr != nil || !ok {
				return
			}
			// Done at end-1 or anything after it (end-1 may be a record of
			// an aborted transaction, never delivered): no quiet wait.
			if r.Offset >= end-1 {
				delete(left, r.Partition)
			}
			if r.Offset >= end {
				return
			}
			if r.Attrs.IsControl() || len(r.Key) == 0 {
				return
			}
			key, st, err := v.recordState(ctx, r)
			if err != nil {
				ferr = err
				return
			}
			ferr = fn(r, key, st)
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// recordState decodes a record: its canonical key, and whether it leaves
// the key live (with which values) or deleted.
func (v *verifier) recordState(ctx context.Context, r *kgo.Record) ([]byte, *kafkaState, error) {
	st := &kafkaState{partition: r.Partition, offset: r.Offset}
	kr := &serde.KafkaRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, serde.Header{Key: h.Key, Value: h.Value})
	}
	rec, err := v.dec.DecodeRecord(ctx, kr)
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	key := canonJSON(nil, rec.Key)
	if rec.Tombstone || rec.Op == "d" || rec.After == nil {
		st.deleted = true
		if rec.Source != nil {
			st.shard, _ = rec.Source["name"].(string)
			st.gtid, _ = rec.Source["gtid"].(string)
		}
		return key, st, nil
	}
	st.digest = digestOf(rec.After)
	st.shard, _ = rec.Source["name"].(string)
	st.gtid, _ = rec.Source["gtid"].(string)
	return key, st, nil
}

// difference describes a candidate that still differs, with both sides'
// values.
func (v *verifier) difference(ctx context.Context, topic string, c *candidate) (VerifyDifference, error) {
	d := VerifyDifference{Topic: topic, Key: c.key, Offset: -1}
	var row map[string]any
	for _, r := range c.mysql {
		d.Shards = append(d.Shards, v.shards[r.shard].name)
		if row == nil && r.after != nil {
			row = r.after
			d.MySQL = canonJSON(nil, row)
		}
	}
	var kafkaAfter map[string]any
	if c.kafka != nil {
		d.Partition, d.Offset, d.KafkaShard = c.kafka.partition, c.kafka.offset, c.kafka.shard
		if !c.kafka.deleted {
			after, err := v.fetchAfter(ctx, topic, c.kafka.partition, c.kafka.offset)
			if err != nil {
				return d, err
			}
			kafkaAfter = after
			d.Kafka = canonJSON(nil, after)
		}
	}
	switch {
	case len(c.mysql) > 1:
		d.Kind = "duplicate"
	case len(c.mysql) == 0:
		d.Kind = "extra"
	case c.kafka == nil || c.kafka.deleted:
		d.Kind = "missing"
	default:
		d.Kind = "different"
		for name, mv := range row {
			kv, ok := kafkaAfter[name]
			if !ok {
				continue // a column added since the record was written
			}
			if string(canonJSON(nil, mv)) != string(canonJSON(nil, kv)) {
				d.Columns = append(d.Columns, name)
			}
		}
		slices.Sort(d.Columns)
	}
	return d, nil
}

// fetchAfter reads one record's after image.
func (v *verifier) fetchAfter(ctx context.Context, topic string, partition int32, offset int64) (map[string]any, error) {
	var after map[string]any
	err := v.readTopic(ctx, topic, map[int32]int64{partition: offset}, map[int32]int64{partition: offset + 1},
		func(r *kgo.Record, _ []byte, _ *kafkaState) error {
			if r.Offset != offset {
				return nil
			}
			kr := &serde.KafkaRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, serde.Header{Key: h.Key, Value: h.Value})
			}
			rec, err := v.dec.DecodeRecord(ctx, kr)
			if err != nil {
				return err
			}
			after = rec.After
			return nil
		})
	if err != nil {
		return nil, err
	}
	return after, nil
}
