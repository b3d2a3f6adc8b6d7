package integration

// Tests of the binlog reader against the stack's real MariaDB shards: every
// value the reader produces must equal what SELECT returns (converted to the
// canonical form of schema/value.go by the test, independently of the
// reader), and positions must resume exactly.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/schema"
)

// ---------------------------------------------------------------------------
// Helpers

// eventSink collects a reader's events. block, when set, makes Put wait for
// release once it returns true for an event (after appending it).
type eventSink struct {
	mu      sync.Mutex
	events  []change.Event
	block   func(change.Event) bool
	release chan struct{}
}

func (s *eventSink) Put(ctx context.Context, ev change.Event) error {
	s.mu.Lock()
	s.events = append(s.events, ev)
	wait := s.block != nil && s.block(ev)
	s.mu.Unlock()
	if wait {
		select {
		case <-s.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *eventSink) all() []change.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]change.Event(nil), s.events...)
}

// rowsOf returns the row events of one table, in order.
func (s *eventSink) rowsOf(db, table string) []change.Event {
	var out []change.Event
	for _, ev := range s.all() {
		if ev.Op != change.OpCheckpoint && ev.Source.Database == db && ev.Source.Table == table {
			out = append(out, ev)
		}
	}
	return out
}

// runningReader is a reader's Run in a goroutine.
type runningReader struct {
	sink   *eventSink
	cancel context.CancelFunc
	done   chan error
}

// stop cancels the reader and returns Run's error (nil for a clean stop).
func (r *runningReader) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("reader did not stop within 30s of cancellation")
		return nil
	}
}

var serverIDs = struct {
	sync.Mutex
	next uint32
}{}

// uniqueServerID returns a replica server_id unlikely to clash with other
// tests sharing the stack.
func uniqueServerID() uint32 {
	serverIDs.Lock()
	defer serverIDs.Unlock()
	if serverIDs.next == 0 {
		var b [2]byte
		_, _ = rand.Read(b[:])
		serverIDs.next = 100_000 + uint32(binary.LittleEndian.Uint16(b[:]))*16
	}
	serverIDs.next++
	return serverIDs.next
}

func readerConfig(s *Stack, shard int, dbs ...string) binlog.Config {
	return binlog.Config{
		Shard: fmt.Sprintf("shard%d", shard+1), Addr: s.Shards[shard], User: s.User, Password: s.Password,
		Flavor: change.FlavorMariaDB, ServerID: uniqueServerID(),
		Include: func(db, _ string) bool {
			for _, d := range dbs {
				if d == db {
					return true
				}
			}
			return false
		},
		HeartbeatPeriod: 200 * time.Millisecond,
		Retryable:       daemon.Retryable, // the daemon's one classifier decides in-place reconnects
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startReader runs a reader from pos until the test ends.
func startReader(t testing.TB, cfg binlog.Config, pos change.Position, m *binlog.Metrics) *runningReader {
	t.Helper()
	r, err := binlog.NewReader(cfg, testLogger(t), m)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningReader{sink: &eventSink{}, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx, pos, rr.sink) }()
	t.Cleanup(func() { _ = rr.stop(t) })
	return rr
}

// startCaughtUp starts a reader at the shard's current position and waits
// for its first checkpoint, so that everything the test does afterwards is
// read.
func startCaughtUp(t testing.TB, cfg binlog.Config, m *binlog.Metrics) *runningReader {
	t.Helper()
	rr := startReader(t, cfg, change.Position{}, m)
	waitEvents(t, rr, "initial checkpoint", func(evs []change.Event) bool { return len(evs) > 0 })
	return rr
}

// waitEvents polls the reader's events until cond holds, failing on a
// deadline or if the reader stops.
func waitEvents(t testing.TB, rr *runningReader, what string, cond func([]change.Event) bool) []change.Event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		evs := rr.sink.all()
		if cond(evs) {
			return evs
		}
		select {
		case err := <-rr.done:
			rr.done <- err
			t.Fatalf("%s: reader stopped: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within 60s (%d events so far)", what, len(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitRows(t testing.TB, rr *runningReader, db, table string, n int) []change.Event {
	t.Helper()
	waitEvents(t, rr, fmt.Sprintf("%d row events of %s.%s", n, db, table), func([]change.Event) bool {
		return len(rr.sink.rowsOf(db, table)) >= n
	})
	return rr.sink.rowsOf(db, table)
}

// waitDone waits for Run to return and returns its error.
func waitDone(t testing.TB, rr *runningReader, what string) error {
	t.Helper()
	select {
	case err := <-rr.done:
		rr.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: reader still running after 60s", what)
		return nil
	}
}

func ctx30(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// conn pins one connection (for session variables).
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(ctx30(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func execConn(t testing.TB, c *sql.Conn, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := c.ExecContext(ctx30(t), q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// setGlobal sets a global variable on a shard for the duration of the test.
func setGlobal(t testing.TB, db *sql.DB, name, value string) {
	t.Helper()
	var old string
	if err := db.QueryRow("SELECT @@GLOBAL." + name).Scan(&old); err != nil {
		t.Fatal(err)
	}
	exec(t, db, fmt.Sprintf("SET GLOBAL %s = '%s'", name, value))
	t.Cleanup(func() {
		if _, err := db.Exec(fmt.Sprintf("SET GLOBAL %s = '%s'", name, old)); err != nil {
			t.Errorf("restore %s=%s: %v", name, old, err)
		}
	})
}

func gtidOfLast(t testing.TB, c *sql.Conn) string {
	t.Helper()
	var g string
	if err := c.QueryRowContext(ctx30(t), "SELECT @@last_gtid").Scan(&g); err != nil {
		t.Fatal(err)
	}
	return g
}

// ---------------------------------------------------------------------------
// (1) Every type, its edge values, NULL and zero dates: reader == SELECT.

// matrixColumn is one column of the type matrix: its DDL, the SELECT
// expression the test reads it back with, and the conversion of that text
// to the canonical value (nil for SQL NULL).
type matrixColumn struct {
	name, ddl, sel string
	conv           func(s string) any
}

func hexText(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func int32Of(s string) any   { n, _ := strconv.ParseInt(s, 10, 32); return int32(n) }
func int64Of(s string) any   { n, _ := strconv.ParseInt(s, 10, 64); return n }
func uint64Of(s string) any  { n, _ := strconv.ParseUint(s, 10, 64); return n }
func textOf(s string) any    { return hexText(s) }
func bytesOf(s string) any   { b, _ := hex.DecodeString(s); return b }
func float32Of(s string) any { f, _ := strconv.ParseFloat(s, 32); return float32(f) }
func float64Of(s string) any { f, _ := strconv.ParseFloat(s, 64); return f }

// bitsOf turns CAST(bit AS UNSIGNED) into Debezium's little-endian bytes.
func bitsOf(width int) func(string) any {
	return func(s string) any {
		n, _ := strconv.ParseUint(s, 10, 64)
		out := make([]byte, (width+7)/8)
		for i := range out {
			out[i] = byte(n >> (8 * i))
		}
		return out
	}
}

// days since the epoch of 'YYYY-MM-DD' (a zero date is the caller's case).
func epochDays(s string) int64 {
	t, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		panic(err)
	}
	return t.Unix() / 86400
}

func dateOf(nullable bool) func(string) any {
	return func(s string) any {
		if s[5:7] == "00" || s[8:10] == "00" {
			if nullable {
				return nil
			}
			return int32(0)
		}
		return int32(epochDays(s))
	}
}

// micros of 'YYYY-MM-DD HH:MM:SS[.f]' read as UTC.
func epochMicros(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func datetimeOf(fsp int, nullable bool) func(string) any {
	return func(s string) any {
		if s[5:7] == "00" || s[8:10] == "00" {
			if nullable {
				return nil
			}
			return int64(0)
		}
		us := epochMicros(s)
		if fsp <= 3 {
			return us / 1000
		}
		return us
	}
}

// timestampOf turns SELECT's text (session time zone +00:00) into the ISO
// form with exactly fsp fraction digits.
func timestampOf(fsp int, nullable bool) func(string) any {
	return func(s string) any {
		if strings.HasPrefix(s, "0000-00-00") {
			if nullable {
				return nil
			}
			s = "1970-01-01 00:00:00"
			if fsp > 0 {
				s += "." + strings.Repeat("0", fsp)
			}
		}
		return strings.Replace(s, " ", "T", 1) + "Z"
	}
}

// orDefault converts a NOT NULL column's zero date as its DEFAULT text.
func orDefault(conv func(string) any, def string) func(string) any {
	return func(s string) any {
		if strings.HasPrefix(s, "0000-00-00") || s[5:7] == "00" || s[8:10] == "00" {
			return conv(def)
		}
		return conv(s)
	}
}

func timeOf(s string) any {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.SplitN(s, ":", 3)
	h, _ := strconv.ParseInt(parts[0], 10, 64)
	m, _ := strconv.ParseInt(parts[1], 10, 64)
	secText, frac, _ := strings.Cut(parts[2], ".")
	sec, _ := strconv.ParseInt(secText, 10, 64)
	us := int64(0)
	if frac != "" {
		us, _ = strconv.ParseInt((frac + "000000")[:6], 10, 64)
	}
	v := (h*3600+m*60+sec)*1_000_000 + us
	if neg {
		v = -v
	}
	return v
}

// geometryOf reads "SRID HEX(ST_AsBinary(g))".
func geometryOf(s string) any {
	sridText, wkbHex, _ := strings.Cut(s, " ")
	wkb, _ := hex.DecodeString(wkbHex)
	g := schema.Geometry{WKB: wkb}
	if srid, _ := strconv.ParseInt(sridText, 10, 32); srid != 0 {
		v := int32(srid)
		g.SRID = &v
	}
	return g
}

func identity(s string) any { return s }

var matrix = []matrixColumn{
	{"ti", "TINYINT", "ti", int32Of},
	{"tiu", "TINYINT UNSIGNED", "tiu", int32Of},
	{"si", "SMALLINT", "si", int32Of},
	{"siu", "SMALLINT UNSIGNED", "siu", int32Of},
	{"mi", "MEDIUMINT", "mi", int32Of},
	{"miu", "MEDIUMINT UNSIGNED", "miu", int32Of},
	{"i", "INT", "i", int32Of},
	{"iu", "INT UNSIGNED", "iu", int64Of},
	{"bi", "BIGINT", "bi", int64Of},
	{"biu", "BIGINT UNSIGNED", "biu", uint64Of},
	{"d65", "DECIMAL(65,30)", "d65", identity},
	{"d10", "DECIMAL(10,2)", "d10", identity},
	{"d5", "DECIMAL(5,0) UNSIGNED", "d5", identity},
	{"f", "FLOAT", "f", float32Of},
	{"dbl", "DOUBLE", "dbl", float64Of},
	{"b1", "BIT(1)", "CAST(b1 AS UNSIGNED)", func(s string) any { return s == "1" }},
	{"b12", "BIT(12)", "CAST(b12 AS UNSIGNED)", bitsOf(12)},
	{"b64", "BIT(64)", "CAST(b64 AS UNSIGNED)", bitsOf(64)},
	{"c", "CHAR(10)", "HEX(CONVERT(c USING utf8mb4))", textOf},
	{"vc", "VARCHAR(100)", "HEX(CONVERT(vc USING utf8mb4))", textOf},
	{"tx", "TEXT", "HEX(CONVERT(tx USING utf8mb4))", textOf},
	{"l1", "VARCHAR(50) CHARACTER SET latin1", "HEX(CONVERT(l1 USING utf8mb4))", textOf},
	{"asc1", "VARCHAR(20) CHARACTER SET ascii", "HEX(CONVERT(asc1 USING utf8mb4))", textOf},
	{"ucs", "VARCHAR(10) CHARACTER SET ucs2", "HEX(CONVERT(ucs USING utf8mb4))", textOf},
	{"u16", "VARCHAR(10) CHARACTER SET utf16", "HEX(CONVERT(u16 USING utf8mb4))", textOf},
	{"l1t", "TEXT CHARACTER SET latin1", "HEX(CONVERT(l1t USING utf8mb4))", textOf},
	{"bin", "BINARY(8)", "HEX(bin)", bytesOf},
	{"vb", "VARBINARY(20)", "HEX(vb)", bytesOf},
	{"bl", "BLOB", "HEX(bl)", bytesOf},
	{"e", "ENUM('a','b','c')", "HEX(CONVERT(e USING utf8mb4))", textOf},
	{"el", "ENUM('x','é','it''s') CHARACTER SET latin1", "HEX(CONVERT(el USING utf8mb4))", textOf},
	{"st", "SET('r','g','b')", "HEX(CONVERT(st USING utf8mb4))", textOf},
	{"j", "JSON", "HEX(CONVERT(j USING utf8mb4))", textOf},
	{"y", "YEAR", "y", int32Of},
	{"dt", "DATE", "dt", dateOf(true)},
	{"tm6", "TIME(6)", "tm6", timeOf},
	{"tm0", "TIME", "tm0", timeOf},
	{"tm3", "TIME(3)", "tm3", timeOf},
	{"dt6", "DATETIME(6)", "dt6", datetimeOf(6, true)},
	{"dt3", "DATETIME(3)", "dt3", datetimeOf(3, true)},
	{"dt0", "DATETIME", "dt0", datetimeOf(0, true)},
	{"ts6", "TIMESTAMP(6) NULL", "ts6", timestampOf(6, true)},
	{"ts0", "TIMESTAMP NULL", "ts0", timestampOf(0, true)},
	// A zero date in a NOT NULL column becomes the column's DEFAULT, as
	// Debezium writes it (TestDebeziumDifferential).
	{"dnn", "DATE NOT NULL DEFAULT '2000-01-01'", "dnn", orDefault(dateOf(false), "2000-01-01")},
	{"dtnn", "DATETIME(6) NOT NULL DEFAULT '2000-01-01'", "dtnn", orDefault(datetimeOf(6, false), "2000-01-01 00:00:00")},
	{"tsnn", "TIMESTAMP(3) NOT NULL DEFAULT '2000-01-01'", "tsnn", orDefault(timestampOf(3, false), "2000-01-01 00:00:00.000")},
	{"pt", "POINT", "CONCAT(ST_SRID(pt), ' ', HEX(ST_AsBinary(pt)))", geometryOf},
	{"pg", "POLYGON", "CONCAT(ST_SRID(pg), ' ', HEX(ST_AsBinary(pg)))", geometryOf},
	{"g", "GEOMETRY", "CONCAT(ST_SRID(g), ' ', HEX(ST_AsBinary(g)))", geometryOf},
	{"uid", "UUID", "CAST(uid AS CHAR)", identity},
	{"ip4", "INET4", "CAST(ip4 AS CHAR)", identity},
	{"ip6", "INET6", "CAST(ip6 AS CHAR)", identity},
	{"fmd", "FLOAT(7,3)", "fmd", float32Of},
	{"dy0", "DATE", "dy0", dateOf(true)},
	{"dty0", "DATETIME(3)", "dty0", datetimeOf(3, true)},
	{"ynn", "YEAR NOT NULL DEFAULT 2000", "ynn", int32Of},
}

// matrixRows are INSERT value lists in matrix column order (after id).
var matrixRows = map[int]string{
	// NULL everywhere it can be; NOT NULL dates get zero dates (epoch).
	1: `NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL, NULL,NULL,NULL,NULL,NULL, NULL,NULL,NULL,
		NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL, NULL,NULL,NULL, NULL,NULL,NULL,NULL, NULL,NULL,NULL,NULL,NULL,
		NULL,NULL,NULL,NULL,NULL, '0000-00-00','0000-00-00 00:00:00','0000-00-00 00:00:00', NULL,NULL,NULL, NULL,NULL,NULL,
		NULL,NULL,NULL,0`,
	// Minimums, negative fractions, odd text and bytes.
	2: `-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,
		'-99999999999999999999999999999999999.999999999999999999999999999999','-12.34',0,-1.5,-1.7976931348623157e308,
		0,b'000000000001',b'1000000000000000000000000000000000000000000000000000000000000001',
		'a','emoji 😀 ok','text é 😀 ü', 'Crème brûlée à la française','plain ascii','ŝŝ','ж😀',CONVERT(UNHEX('80818DE9') USING latin1),
		UNHEX('0102'),UNHEX('FF00FE80'),UNHEX('00FF00'),
		'a','é','r,b','{"k": [1, 2.5, "x"], "n": null, "s": "é😀"}',1901,'1000-01-01',
		'-838:59:59.000000','-00:00:01','-00:00:00.500',
		'1000-01-01 00:00:00.000000','1969-12-31 23:59:59.999','1969-07-20 20:17:40',
		'1970-01-01 05:30:01.000001','1970-01-01 05:30:01',
		'1000-01-01','1000-01-01 00:00:00.000001','1970-01-01 05:30:01.001',
		ST_PointFromText('POINT(1 2)', 4326),ST_PolygonFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))'),ST_GeomFromText('LINESTRING(0 0,1 1,2 1)', 3857),
		'6ccd780c-baba-1026-9564-5b8c656024db','0.0.0.0','::',
		-1234.567,'0000-05-10','0000-01-01 00:00:00.000',1901`,
	// Maximums.
	3: `127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,
		'99999999999999999999999999999999999.999999999999999999999999999999','99999999.99',99999,3.25,1.7976931348623157e308,
		1,b'111111111111',b'1111111111111111111111111111111111111111111111111111111111111111',
		'abcdefghij','','', '','','','','',
		UNHEX('FFFFFFFFFFFFFFFF'),'',UNHEX(''),
		'c','it''s','r,g,b','[]',2155,'9999-12-31',
		'838:59:59.000000','838:59:59','12:34:56.789',
		'9999-12-31 23:59:59.999999','2024-05-06 07:08:09.123','2024-05-06 07:08:09',
		'2038-01-19 08:44:07.999999','2038-01-19 08:44:07',
		'9999-12-31','9999-12-31 23:59:59.999999','2038-01-19 08:44:07.999',
		ST_PointFromText('POINT(-180.5 90.25)'),ST_PolygonFromText('POLYGON((0 0,1 0,1 1,0 0),(0.1 0.1,0.2 0.1,0.2 0.2,0.1 0.1))', 4326),ST_GeomFromText('POINT(3 4)'),
		'01890f4b-7f1c-7d6e-8a2b-3c4d5e6f7a8b','255.255.255.255','ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
		9999.999,'0000-12-31','0000-02-29 23:59:59.999',2155`,
	// Zero and partly zero dates in nullable columns; IPv4-mapped INET6.
	4: `1,2,3,4,5,6,7,8,9,10, '0.5','0.01',1,0,0, 1,b'1',b'0', ' lead',' x ','ends with space ','','','','','',
		UNHEX('00'),UNHEX('00'),UNHEX('00'), '','','','"just a string"',0,'0000-00-00',
		'00:00:00','00:00:00','00:00:00.001',
		'0000-00-00 00:00:00.000000','2024-00-10 00:00:00.000','2024-05-00 00:00:00',
		'0000-00-00 00:00:00','0000-00-00 00:00:00',
		'2024-00-00','2024-05-00 00:00:00','0000-00-00 00:00:00',
		NULL,NULL,NULL, '00000000-0000-0000-0000-000000000000','10.0.0.0','::ffff:1.2.3.4',
		0,'0000-01-01','0000-00-00 00:00:00.000',0`,
}

// matrixUpdates change rows 2 and 4.
var matrixUpdates = []string{
	`UPDATE %s SET ti=ti+1, biu=biu+1, d65='-0.000000000000000000000000000001', vc='ÿ updated', bin=UNHEX('00000000000000FF'),
		b64=b'0', st='', j='{"a": {"b": [true, false]}}', tm6='-00:00:00.000001', dt6='1970-01-01 00:00:00.000000',
		ts6='2000-02-29 12:00:00.5', uid='00000000-0000-0000-0000-000000000001', ip6='2001:db8::ff00:42:8329', pt=NULL WHERE id = 2`,
	`UPDATE %s SET dt='2024-02-29', dnn='1970-01-01', ip6='1::2:0:0:3', ip4='192.168.1.1', e='b', l1t=CONVERT(UNHEX('C0FF') USING latin1) WHERE id = 4`,
}

func TestBinlogTypeMatrix(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "binlog_types")
	table := name + ".matrix"
	var ddl []string
	for _, c := range matrix {
		ddl = append(ddl, c.name+" "+c.ddl)
	}
	exec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, "+strings.Join(ddl, ", ")+") DEFAULT CHARSET=utf8mb4")

	rr := startCaughtUp(t, readerConfig(s, 0, name), nil)

	c := conn(t, db)
	// Zero dates need a permissive sql_mode; TIMESTAMP literals are read in
	// the session time zone, which is deliberately not UTC.
	execConn(t, c, "SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:30'")
	for id := 1; id <= 4; id++ {
		execConn(t, c, fmt.Sprintf("INSERT INTO %s VALUES (%d, %s)", table, id, matrixRows[id]))
	}
	inserted := selectMatrix(t, db, table)
	for _, u := range matrixUpdates {
		execConn(t, c, fmt.Sprintf(u, table))
	}
	updated := selectMatrix(t, db, table)
	execConn(t, c, "DELETE FROM "+table)

	evs := waitRows(t, rr, name, "matrix", 4+2+4)
	if len(evs) != 10 {
		t.Fatalf("got %d row events, want 10", len(evs))
	}
	tbl := evs[0].Table
	if got := tbl.Columns[0].Name; got != "id" || len(tbl.Columns) != len(matrix)+1 || !reflect.DeepEqual(tbl.PrimaryKey, []int{0}) {
		t.Fatalf("schema: first column %q, %d columns, key %v", got, len(tbl.Columns), tbl.PrimaryKey)
	}
	wantTypes := map[string]schema.Type{
		"tiu": schema.TypeTinyInt, "biu": schema.TypeBigInt, "d65": schema.TypeDecimal, "b1": schema.TypeBit,
		"tx": schema.TypeText, "bin": schema.TypeBinary, "bl": schema.TypeBlob, "e": schema.TypeEnum,
		"st": schema.TypeSet, "j": schema.TypeText, "ts6": schema.TypeTimestamp, "pg": schema.TypeGeometry,
		"uid": schema.TypeChar, "ip6": schema.TypeChar, "l1": schema.TypeChar,
	}
	for i, col := range tbl.Columns {
		if want, ok := wantTypes[col.Name]; ok && col.Type != want {
			t.Errorf("column %s: type %s, want %s", col.Name, col.Type, want)
		}
		if i > 0 && col.RawType == "" {
			t.Errorf("column %s: no RawType", col.Name)
		}
	}
	if c := tbl.Columns[tbl.ColumnIndex("d65")]; c.Precision != 65 || c.Scale != 30 {
		t.Errorf("d65: precision/scale %d/%d", c.Precision, c.Scale)
	}
	if c := tbl.Columns[tbl.ColumnIndex("dt6")]; c.FSP != 6 {
		t.Errorf("dt6: fsp %d", c.FSP)
	}
	if c := tbl.Columns[tbl.ColumnIndex("el")]; !reflect.DeepEqual(c.Values, []string{"x", "é", "it's"}) || c.Charset != "latin1" {
		t.Errorf("el: values %q charset %q", c.Values, c.Charset)
	}
	if c := tbl.Columns[tbl.ColumnIndex("biu")]; !c.Unsigned {
		t.Errorf("biu: not unsigned")
	}

	check := func(ev change.Event, what string, got change.Row, want map[int][]any) {
		t.Helper()
		id, ok := got[0].(int32)
		if !ok {
			t.Errorf("%s: id %#v", what, got[0])
			return
		}
		w := want[int(id)]
		for i := range matrix {
			if g, wv := got[i+1], w[i]; !reflect.DeepEqual(g, wv) {
				t.Errorf("%s row %d column %s (%s): reader %#v, SELECT %#v", what, id, matrix[i].name, matrix[i].ddl, g, wv)
			}
		}
		if ev.Table != tbl {
			t.Errorf("%s row %d: a new *schema.Table for an unchanged table", what, id)
		}
	}
	for _, ev := range evs[:4] {
		if ev.Op != change.OpCreate || ev.Before != nil {
			t.Fatalf("event %s, want insert", ev.Op)
		}
		check(ev, "insert", ev.After, inserted)
	}
	for _, ev := range evs[4:6] {
		if ev.Op != change.OpUpdate {
			t.Fatalf("event %s, want update", ev.Op)
		}
		check(ev, "update before", ev.Before, inserted)
		check(ev, "update after", ev.After, updated)
	}
	for _, ev := range evs[6:] {
		if ev.Op != change.OpDelete || ev.After != nil {
			t.Fatalf("event %s, want delete", ev.Op)
		}
		check(ev, "delete", ev.Before, updated)
	}
	// MariaDB's GTID event replaces BEGIN, so no event of a transaction
	// carries its thread id: Thread is -1 (unknown).
	for _, ev := range evs {
		src := ev.Source
		if src.Shard != "shard1" || src.Connector != "mariadb" || src.GTID == "" || src.File == "" || src.Pos == 0 ||
			src.ServerID != 1 || src.Thread != -1 || src.TsMs == 0 || ev.CommitUnixMicros == 0 || ev.Size <= 0 {
			t.Errorf("event source %+v commit %d size %d", src, ev.CommitUnixMicros, ev.Size)
		}
	}
}

// selectMatrix reads the matrix table back as canonical values by id.
func selectMatrix(t *testing.T, db *sql.DB, table string) map[int][]any {
	t.Helper()
	c := conn(t, db)
	execConn(t, c, "SET SESSION time_zone = '+00:00'")
	var sels []string
	for _, m := range matrix {
		sels = append(sels, m.sel)
	}
	rows, err := c.QueryContext(ctx30(t), "SELECT id, "+strings.Join(sels, ", ")+" FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int][]any{}
	for rows.Next() {
		var id int
		vals := make([]sql.NullString, len(matrix))
		dest := []any{&id}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		canon := make([]any, len(matrix))
		for i, v := range vals {
			if v.Valid {
				canon[i] = matrix[i].conv(v.String)
			}
		}
		out[id] = canon
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------------------
// (2) Positions: before-position inside a transaction, after-position on its
// last event; resuming from either is exact.

func TestBinlogPositions(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "binlog_pos")
	table := name + ".t"
	exec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, v VARCHAR(20))")
	cfg := readerConfig(s, 0, name)
	rr := startCaughtUp(t, cfg, nil)

	c := conn(t, db)
	execConn(t, c, "BEGIN",
		"INSERT INTO "+table+" VALUES (1,'a'),(2,'b'),(3,'c')",
		"UPDATE "+table+" SET v='bb' WHERE id=2",
		"DELETE FROM "+table+" WHERE id=3",
		"COMMIT")
	tx1 := gtidOfLast(t, c)
	execConn(t, c, "INSERT INTO "+table+" VALUES (10,'x')")
	execConn(t, c, "INSERT INTO "+table+" VALUES (11,'y'),(12,'z')")
	tx3 := gtidOfLast(t, c)

	evs := waitRows(t, rr, name, "t", 8)
	tx := evs[:5]
	before := tx[0].Position
	for i, ev := range tx {
		if ev.Source.GTID != tx1 || ev.Source.TxSeq != int64(i+1) {
			t.Errorf("tx1 event %d: gtid %s txseq %d, want %s %d", i, ev.Source.GTID, ev.Source.TxSeq, tx1, i+1)
		}
		if i < 4 && !reflect.DeepEqual(ev.Position, before) {
			t.Errorf("tx1 event %d: position %s, want the position before the transaction %s", i, ev.Position, before)
		}
	}
	after := tx[4].Position
	if after.GTIDSet == before.GTIDSet || !strings.Contains(after.GTIDSet, tx1) || strings.Contains(before.GTIDSet, tx1) {
		t.Fatalf("tx1 last event position %s should include %s, before-position %s should not", after, tx1, before)
	}
	if ops := fmt.Sprint(tx[0].Op, tx[1].Op, tx[2].Op, tx[3].Op, tx[4].Op); ops != "c c c u d" {
		t.Errorf("tx1 ops %s", ops)
	}
	if !strings.Contains(evs[7].Position.GTIDSet, tx3) || evs[6].Position.GTIDSet == evs[7].Position.GTIDSet {
		t.Errorf("tx3 (two rows): positions %s then %s", evs[6].Position, evs[7].Position)
	}

	// Resume from the end of tx1: exactly tx2 and tx3 follow. Resume from
	// inside tx1 (its before-position): tx1 is replayed whole. A last row
	// marks the end, so that a repeated or missing row would show.
	cfgB, cfgC := cfg, cfg
	cfgB.ServerID, cfgC.ServerID = uniqueServerID(), uniqueServerID()
	rb := startReader(t, cfgB, after, nil)
	rc := startReader(t, cfgC, tx[2].Position, nil)
	execConn(t, c, "INSERT INTO "+table+" VALUES (20,'end')")
	for _, r := range []struct {
		what   string
		reader *runningReader
		want   string
	}{
		{"from the start", rr, "1 2 3 2 3 10 11 12 20"},
		{"after tx1", rb, "10 11 12 20"},
		{"inside tx1", rc, "1 2 3 2 3 10 11 12 20"},
	} {
		var ids string
		waitEvents(t, r.reader, "row 20 "+r.what, func([]change.Event) bool {
			ids = rowIDs(r.reader.sink.rowsOf(name, "t"))
			return strings.HasSuffix(ids, "20")
		})
		if ids != r.want {
			t.Errorf("resumed %s: row ids %s, want %s", r.what, ids, r.want)
		}
	}
}

// covers reports whether a MariaDB GTID position includes the transaction
// gtid (same domain, sequence number at least gtid's).
func covers(pos, gtid string) bool {
	g := strings.Split(gtid, "-")
	want, _ := strconv.ParseUint(g[2], 10, 64)
	for _, p := range strings.Split(pos, ",") {
		f := strings.Split(p, "-")
		if len(f) == 3 && f[0] == g[0] {
			seq, _ := strconv.ParseUint(f[2], 10, 64)
			return seq >= want
		}
	}
	return false
}

// rowIDs lists the id (first column) of each event's row image.
func rowIDs(evs []change.Event) string {
	var ids []string
	for _, ev := range evs {
		r := ev.After
		if r == nil {
			r = ev.Before
		}
		ids = append(ids, fmt.Sprint(r[0]))
	}
	return strings.Join(ids, " ")
}

// ---------------------------------------------------------------------------
// (3) A transaction on a table outside the allow-list only advances the
// position.

func TestBinlogFilteredCheckpoint(t *testing.T) {
	s := stackEnv(t)
	db, captured := s.createDatabase(t, 0, "binlog_in")
	_, other := s.createDatabase(t, 0, "binlog_out")
	exec(t, db, "CREATE TABLE "+captured+".t (id INT PRIMARY KEY)", "CREATE TABLE "+other+".t (id INT PRIMARY KEY)")
	rr := startCaughtUp(t, readerConfig(s, 0, captured), nil)

	c := conn(t, db)
	execConn(t, c, "INSERT INTO "+other+".t VALUES (1),(2)")
	gtid := gtidOfLast(t, c)
	evs := waitEvents(t, rr, "checkpoint past "+gtid, func(evs []change.Event) bool {
		last := evs[len(evs)-1]
		return last.Op == change.OpCheckpoint && covers(last.Position.GTIDSet, gtid)
	})
	for _, ev := range evs {
		if ev.Op != change.OpCheckpoint {
			t.Errorf("unexpected %s event for %s.%s", ev.Op, ev.Source.Database, ev.Source.Table)
		}
		if ev.Table != nil || ev.Before != nil || ev.After != nil {
			t.Errorf("checkpoint with a table or rows: %+v", ev)
		}
	}
	// A captured row afterwards carries the advanced position.
	execConn(t, c, "INSERT INTO "+captured+".t VALUES (1)")
	got := waitRows(t, rr, captured, "t", 1)
	if !covers(got[0].Position.GTIDSet, gtidOfLast(t, c)) {
		t.Errorf("captured row position %s", got[0].Position)
	}
}

// ---------------------------------------------------------------------------
// (4) ALTER TABLE ADD COLUMN mid-stream.

func TestBinlogAddColumn(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "binlog_ddl")
	table := name + ".t"
	exec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, a VARCHAR(10))")
	rr := startCaughtUp(t, readerConfig(s, 0, name), nil)
	exec(t, db,
		"INSERT INTO "+table+" VALUES (1, 'one')",
		"INSERT INTO "+table+" VALUES (2, 'two')",
		"ALTER TABLE "+table+" ADD COLUMN b INT UNSIGNED NOT NULL DEFAULT 7, ADD COLUMN c ENUM('x','y') DEFAULT 'y'",
		"INSERT INTO "+table+" VALUES (3, 'three', 4000000000, 'x')",
		"UPDATE "+table+" SET a='uno' WHERE id=1",
	)
	evs := waitRows(t, rr, name, "t", 4)
	if evs[0].Table != evs[1].Table {
		t.Errorf("unchanged table got a new *schema.Table between transactions")
	}
	if n := len(evs[0].Table.Columns); n != 2 {
		t.Errorf("before ALTER: %d columns", n)
	}
	newT := evs[2].Table
	if newT == evs[0].Table || len(newT.Columns) != 4 || newT.Columns[2].Name != "b" || newT.Columns[3].Name != "c" {
		t.Fatalf("after ALTER: same pointer %v, columns %+v", newT == evs[0].Table, newT.Columns)
	}
	if evs[3].Table != newT {
		t.Errorf("a new *schema.Table for the second event after ALTER")
	}
	want := []string{"[1 one]", "[2 two]", "[3 three 4000000000 x]", "[1 one 7 y]->[1 uno 7 y]"}
	for i, ev := range evs {
		got := fmt.Sprint([]any(ev.After))
		if ev.Op == change.OpUpdate {
			got = fmt.Sprint([]any(ev.Before)) + "->" + got
		}
		if got != want[i] {
			t.Errorf("event %d: %s, want %s", i, got, want[i])
		}
	}
	if v, ok := evs[2].After[2].(int64); !ok || v != 4000000000 {
		t.Errorf("INT UNSIGNED after ALTER: %#v", evs[2].After[2])
	}
}

// ---------------------------------------------------------------------------
// (5) Check reports every problem at once; a position the server cannot
// serve is ErrPositionLost from Check and from Run.

func TestBinlogCheck(t *testing.T) {
	s := stackEnv(t)
	shard := len(s.Shards) - 1
	admin := s.adminDB(t, shard)
	cfg := readerConfig(s, shard)
	r, err := binlog.NewReader(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctx30(t), change.Position{}); err != nil {
		t.Fatalf("Check on a well-configured shard: %v", err)
	}
	var pos string
	if err := admin.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctx30(t), change.Position{Flavor: change.FlavorMariaDB, GTIDSet: pos}); err != nil {
		t.Fatalf("Check from the current position: %v", err)
	}

	// A position far ahead of the server's binlog (another server's, or a
	// diverged history).
	gs := strings.Split(pos, ",")
	first := strings.Split(gs[0], "-")
	bogus := change.Position{Flavor: change.FlavorMariaDB, GTIDSet: first[0] + "-" + first[1] + "-999999999"}

	setGlobal(t, admin, "binlog_row_image", "MINIMAL")
	err = r.Check(ctx30(t), bogus)
	var pe *binlog.PrerequisiteError
	if !errors.As(err, &pe) {
		t.Fatalf("Check: %v, want a PrerequisiteError", err)
	}
	t.Logf("Check: %v", err)
	if len(pe.Problems) != 2 || !strings.Contains(pe.Problems[0], "binlog_row_image is MINIMAL; set binlog_row_image=FULL") ||
		!strings.Contains(pe.Problems[1], "999999999") || pe.Shard != cfg.Shard {
		t.Errorf("problems %q", pe.Problems)
	}
	if !errors.Is(err, mysql.ErrPositionLost) || daemon.Retryable(err) {
		t.Errorf("Check error should match ErrPositionLost and be terminal")
	}

	rr := startReader(t, cfg, bogus, nil)
	err = waitDone(t, rr, "Run from a position the server does not have")
	if !errors.Is(err, mysql.ErrPositionLost) || daemon.Retryable(err) {
		t.Fatalf("Run: %v, want terminal ErrPositionLost", err)
	}
	if !strings.Contains(err.Error(), cfg.Shard) || !strings.Contains(err.Error(), bogus.GTIDSet) {
		t.Errorf("Run error %q does not name shard and GTID set", err)
	}
}

// ---------------------------------------------------------------------------
// (6) A column Tidemark cannot convert exactly is a terminal
// UnsupportedTypeError naming shard, table and column.

func TestBinlogUnsupportedType(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "binlog_unsup")
	exec(t, db, "CREATE TABLE "+name+".t (id INT PRIMARY KEY, arm VARCHAR(10) CHARACTER SET armscii8)")
	rr := startCaughtUp(t, readerConfig(s, 0, name), nil)
	exec(t, db, "INSERT INTO "+name+".t VALUES (1, 'x')")
	err := waitDone(t, rr, "Run on an unsupported column")
	var ute *schema.UnsupportedTypeError
	if !errors.As(err, &ute) || daemon.Retryable(err) {
		t.Fatalf("Run: %v, want a terminal UnsupportedTypeError", err)
	}
	if ute.Shard != "shard1" || ute.Table != name+".t" || ute.Column != "arm" {
		t.Errorf("UnsupportedTypeError %+v", ute)
	}
	if len(rr.sink.rowsOf(name, "t")) != 0 {
		t.Errorf("rows emitted for an unsupported table")
	}
}

// ---------------------------------------------------------------------------
// (7) A wrong password is a clear, non-retried error naming shard and user.

func TestBinlogWrongPassword(t *testing.T) {
	s := stackEnv(t)
	cfg := readerConfig(s, 0)
	cfg.Password = "not-the-password-" + uniqueName("pw")
	r, err := binlog.NewReader(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, err := range map[string]error{
		"Check": r.Check(ctx30(t), change.Position{}),
		"Run":   waitDone(t, startReader(t, cfg, change.Position{}, nil), "Run with a wrong password"),
	} {
		if !errors.Is(err, mysql.ErrAccessDenied) || daemon.Retryable(err) {
			t.Errorf("%s: %v, want terminal ErrAccessDenied", what, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "shard1") || !strings.Contains(msg, s.User) || strings.Contains(msg, cfg.Password) {
			t.Errorf("%s error %q must name shard and user and not the password", what, msg)
		}
	}
	if strings.Contains(cfg.String(), cfg.Password) || strings.Contains(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), cfg.Password) {
		t.Errorf("Config prints its password")
	}
}

// ---------------------------------------------------------------------------
// (8) binlog_row_metadata=MINIMAL: names, key, signedness and ENUM members
// come from information_schema.

func TestBinlogMinimalMetadataFallback(t *testing.T) {
	s := stackEnv(t)
	shard := len(s.Shards) - 1
	db, name := s.createDatabase(t, shard, "binlog_minimal")
	table := name + ".t"
	exec(t, db, "CREATE TABLE "+table+" (a VARCHAR(5), id INT UNSIGNED, e ENUM('p','q''r'), k BIGINT UNSIGNED, PRIMARY KEY (k, id))")
	setGlobal(t, db, "binlog_row_metadata", "MINIMAL")
	cfg := readerConfig(s, shard, name)
	// Refused unless allowed, naming the risk.
	r, err := binlog.NewReader(cfg, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var pe *binlog.PrerequisiteError
	if err := r.Check(ctx30(t), change.Position{}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "binlog_row_metadata is MINIMAL") ||
		!strings.Contains(err.Error(), "rename") || !strings.Contains(err.Error(), "allow_minimal_row_metadata") {
		t.Fatalf("Check without FULL metadata: %v, want a prerequisite error naming the risk and the opt-in", err)
	}
	cfg.AllowMinimalRowMetadata = true
	if r, err = binlog.NewReader(cfg, testLogger(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(ctx30(t), change.Position{}); err != nil {
		t.Fatalf("Check with allow_minimal_row_metadata: %v", err)
	}
	reg := prometheus.NewRegistry()
	rr := startCaughtUp(t, cfg, binlog.NewMetrics(reg))
	c := conn(t, db) // a new session: it logs with the new global setting
	execConn(t, c, "INSERT INTO "+table+" VALUES ('x', 4294967295, 'q''r', 18446744073709551615)")
	evs := waitRows(t, rr, name, "t", 1)
	tbl := evs[0].Table
	var names []string
	for _, col := range tbl.Columns {
		names = append(names, col.Name)
	}
	if strings.Join(names, ",") != "a,id,e,k" || !reflect.DeepEqual(tbl.PrimaryKey, []int{3, 1}) {
		t.Errorf("columns %v key %v, want a,id,e,k key [3 1]", names, tbl.PrimaryKey)
	}
	if got := fmt.Sprintf("%#v", []any(evs[0].After)); got != `[]interface {}{"x", 4294967295, "q'r", 0xffffffffffffffff}` {
		t.Errorf("row %s", got)
	}
	if v, ok := evs[0].After[1].(int64); !ok || v != 4294967295 {
		t.Errorf("INT UNSIGNED %#v", evs[0].After[1])
	}
	if n := metricValue(t, reg, "tidemark_binlog_schema_loads_total"); n < 1 {
		t.Errorf("no schema load counted")
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == "tidemark_binlog_schema_loads_total" && l.GetName() == "source" && l.GetValue() == "binlog" && m.GetCounter().GetValue() > 0 {
					t.Errorf("the table was built from full binlog metadata, not the information_schema fallback")
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Heartbeats keep an idle connection alive (no reconnect although the read
// timeout is short) and carry a position that filtered transactions moved
// while checkpoints were rate-limited.

func TestBinlogHeartbeatCheckpoint(t *testing.T) {
	s := stackEnv(t)
	shard := len(s.Shards) - 1
	db, captured := s.createDatabase(t, shard, "binlog_hb_in")
	_, other := s.createDatabase(t, shard, "binlog_hb_out")
	exec(t, db, "CREATE TABLE "+other+".t (id INT PRIMARY KEY)")
	cfg := readerConfig(s, shard, captured)
	cfg.HeartbeatPeriod = 100 * time.Millisecond
	// Long enough that a loaded machine (shared CI, two cores) never
	// starves a heartbeat that long; the test idles for longer still.
	cfg.ReadTimeout = 2 * time.Second
	cfg.CheckpointInterval = time.Hour // only heartbeats may Put the checkpoint
	reg := prometheus.NewRegistry()
	rr := startCaughtUp(t, cfg, binlog.NewMetrics(reg))

	c := conn(t, db)
	execConn(t, c, "INSERT INTO "+other+".t VALUES (1)")
	gtid := gtidOfLast(t, c)
	waitEvents(t, rr, "heartbeat checkpoint past "+gtid, func(evs []change.Event) bool {
		last := evs[len(evs)-1]
		return last.Op == change.OpCheckpoint && last.CommitUnixMicros == 0 && covers(last.Position.GTIDSet, gtid)
	})
	// Idle, the shard's heartbeats (every 100ms) beat the read timeout:
	// idle for one and a half of it, then no reconnect.
	start := time.Now()
	waitEvents(t, rr, "idle for 1.5 read timeouts", func([]change.Event) bool { return time.Since(start) > 3*cfg.ReadTimeout/2 })
	if n := metricValue(t, reg, "tidemark_binlog_reconnects_total"); n != 0 {
		t.Errorf("%v reconnects on an idle connection with heartbeats", n)
	}
	// (Other tests' transactions on the shard may set the lag between
	// heartbeats, to at most a second or so: header times are seconds.)
	if n := metricValue(t, reg, "tidemark_binlog_source_lag_seconds"); n > 5 {
		t.Errorf("lag %v after heartbeats", n)
	}
}

// ---------------------------------------------------------------------------
// (9) The reader's binlog connection is killed in the middle of a large
// transaction: it reconnects and delivers every row exactly once.

func TestBinlogReconnect(t *testing.T) {
	s := stackEnv(t)
	db, name := s.createDatabase(t, 0, "binlog_kill")
	table := name + ".big"
	exec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, pad VARCHAR(1000))")

	// A user of its own, so that the test kills exactly its reader's
	// connection on a stack other tests share.
	user := uniqueName("tmk")
	exec(t, db, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw'", user),
		fmt.Sprintf("GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '%s'@'%%'", user))
	t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", user)) })

	cfg := readerConfig(s, 0, name)
	cfg.User, cfg.Password = user, "pw"
	cfg.EventBuffer = 1 // keep go-mysql from reading far ahead of the sink
	reg := prometheus.NewRegistry()
	rr := startCaughtUp(t, cfg, binlog.NewMetrics(reg))

	const rows = 20000 // ~20 MB of binlog: far more than socket buffers hold
	rr.sink.release = make(chan struct{})
	var blocked sync.Once
	rr.sink.mu.Lock()
	rr.sink.block = func(ev change.Event) bool {
		hit := false
		if ev.Source.Table == "big" && ev.Source.TxSeq == 500 {
			blocked.Do(func() { hit = true })
		}
		return hit
	}
	rr.sink.mu.Unlock()
	exec(t, db, fmt.Sprintf("INSERT INTO %s SELECT seq, REPEAT('x', 1000) FROM %s.seq_1_to_%d", table, name, rows))

	waitEvents(t, rr, "the reader blocked mid-transaction", func([]change.Event) bool {
		return len(rr.sink.rowsOf(name, "big")) >= 500
	})
	var ids []int64
	q := fmt.Sprintf("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s' AND COMMAND = 'Binlog Dump'", user)
	eventually(t, 30*time.Second, "the reader's Binlog Dump connection", func() error {
		ids = ids[:0]
		rows, err := db.Query(q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		if len(ids) != 1 {
			return fmt.Errorf("%d Binlog Dump connections", len(ids))
		}
		return nil
	})
	exec(t, db, fmt.Sprintf("KILL %d", ids[0]))
	eventually(t, 30*time.Second, "the killed connection to go", func() error {
		var n int
		if err := db.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %d", ids[0])).Scan(&n); err != nil || n != 0 {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	close(rr.sink.release)
	exec(t, db, "INSERT INTO "+table+" VALUES (0, 'after')")

	evs := waitRows(t, rr, name, "big", rows+1)
	seen := make(map[int32]int, rows+1)
	for _, ev := range evs {
		seen[ev.After[0].(int32)]++
	}
	for id := int32(0); id <= rows; id++ {
		if seen[id] != 1 {
			t.Fatalf("row %d delivered %d times", id, seen[id])
		}
	}
	if len(evs) != rows+1 {
		t.Fatalf("%d row events, want %d", len(evs), rows+1)
	}
	for i, ev := range evs[:rows] {
		if ev.Source.TxSeq != int64(i+1) {
			t.Fatalf("event %d has TxSeq %d", i, ev.Source.TxSeq)
		}
	}
	reconnects, skipped := metricValue(t, reg, "tidemark_binlog_reconnects_total"), metricValue(t, reg, "tidemark_binlog_replayed_rows_skipped_total")
	t.Logf("reconnects %v, replayed rows skipped %v", reconnects, skipped)
	if reconnects < 1 || skipped < 1 {
		t.Errorf("reconnects %v, skipped %v: want the connection to have been lost mid-transaction", reconnects, skipped)
	}
}

func metricValue(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}
