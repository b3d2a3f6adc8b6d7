package daemon

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/snapshot"
)

// Config is the daemon's YAML file: one admin endpoint, one Kafka cluster, one
// registry, and many shards. configs/tidemark.example.yaml documents every
// key; LoadConfig fills defaults and validates. Secrets are never in the file:
// each *_env key names the environment variable that holds one.
type Config struct {
	Admin    AdminConfig    `yaml:"admin"`
	Kafka    KafkaConfig    `yaml:"kafka"`
	Registry RegistryConfig `yaml:"registry"`
	Topics   TopicsConfig   `yaml:"topics"`
	Encoding EncodingConfig `yaml:"encoding"`
	Limits   LimitsConfig   `yaml:"limits"`
	// LargeRecords is the claim-check for records above a topic's limit.
	LargeRecords LargeRecordsConfig `yaml:"large_records"`
	// Defaults apply to every shard that leaves the key unset.
	Defaults ShardDefaults `yaml:"defaults"`
	Shards   []ShardConfig `yaml:"shards"`
}

// AdminConfig is the operator HTTP endpoint.
type AdminConfig struct {
	Listen string `yaml:"listen"` // host:port; default 127.0.0.1:8085
	// TokenEnv names the environment variable holding the bearer token that
	// every state-changing request (any method but GET and HEAD) and pprof
	// must present. Required when Listen is not a loopback address.
	TokenEnv string `yaml:"token_env"`
	// Pprof serves Go's profiler under /debug/pprof/ (default false).
	Pprof bool `yaml:"pprof"`
}

// minAdminToken is the shortest bearer token accepted: a guessable token
// on a reachable port is no protection.
const minAdminToken = 16

// KafkaConfig is the cluster every topic and the positions live in.
type KafkaConfig struct {
	Brokers  []string   `yaml:"brokers"`
	ClientID string     `yaml:"client_id"`
	TLS      TLSConfig  `yaml:"tls"`
	SASL     SASLConfig `yaml:"sasl"`
	// PositionsTopic is the compacted topic holding each shard's position.
	PositionsTopic string `yaml:"positions_topic"`
	// Compression of produced batches: none, gzip, snappy, lz4 (default), zstd.
	Compression string        `yaml:"compression"`
	Linger      time.Duration `yaml:"linger"`
	// Sink is "kafka" (default) or "discard": encode everything and produce
	// nothing (benchmarks measure the pipeline's ceiling with it).
	Sink string `yaml:"sink"`
	// Delivery is exactly_once (default: each shard's records and position
	// in Kafka transactions; read_committed consumers see every change
	// once) or at_least_once (no transactions; a crash repeats what was
	// written after the last stored position).
	Delivery string `yaml:"delivery"`
	// Transactions tune exactly_once delivery.
	Transactions TransactionsConfig `yaml:"transactions"`
}

// TransactionsConfig tunes the Kafka transactions of exactly_once delivery.
type TransactionsConfig struct {
	// Interval between commits (default 100ms): records become visible to
	// read_committed consumers at a commit, so it adds up to this much
	// latency; shorter costs more commits.
	Interval time.Duration `yaml:"interval"`
	// MaxRecords commits earlier once a transaction holds this many
	// records (default 100000).
	MaxRecords int `yaml:"max_records"`
	// Timeout is Kafka's transaction.timeout.ms (default 5m). One MySQL
	// transaction is one Kafka transaction: it must stream within this.
	// At most the brokers' transaction.max.timeout.ms (15m by default).
	Timeout time.Duration `yaml:"timeout"`
	// IDPrefix starts each shard's transactional.id,
	// <id_prefix>.<positions topic>.<shard> (default tidemark). Every
	// process writing a shard uses the same id: a second one fences the
	// first.
	IDPrefix string `yaml:"id_prefix"`
}

// Delivery modes (kafka.delivery).
const (
	DeliveryExactlyOnce = "exactly_once"
	DeliveryAtLeastOnce = "at_least_once"
	defaultTxnInterval  = 100 * time.Millisecond
	defaultTxnIDPrefix  = "tidemark"
)

// TransactionalID is a shard's Kafka transactional.id ("" at least once).
func (k KafkaConfig) TransactionalID(shard string) string {
	if k.Delivery != DeliveryExactlyOnce || k.Sink == "discard" {
		return ""
	}
	return k.Transactions.IDPrefix + "." + k.PositionsTopic + "." + shard
}

// TLSConfig enables TLS to a server. Files are PEM.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig authenticates to Kafka.
type SASLConfig struct {
	Mechanism   string `yaml:"mechanism"` // SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN; empty = no SASL
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
}

// RegistryConfig is the Confluent-compatible Schema Registry.
type RegistryConfig struct {
	URL         string        `yaml:"url"`
	Username    string        `yaml:"username"`
	PasswordEnv string        `yaml:"password_env"`
	TLS         TLSConfig     `yaml:"tls"`
	Timeout     time.Duration `yaml:"timeout"`
}

// TopicsConfig names and creates the per-table topics.
type TopicsConfig struct {
	// Prefix starts every topic name: <prefix>.<logical database>.<table>.
	Prefix string `yaml:"prefix"`
	// Delimiter joins the parts of a topic name (default ".", as Debezium's
	// topic.delimiter).
	Delimiter string `yaml:"delimiter"`
	// DatabaseRewrites map a shard's physical database name to the logical
	// one, first match wins (`shop_shard_\d+` → `shop`), so that all shards'
	// tables merge into one topic.
	DatabaseRewrites  []RewriteConfig   `yaml:"database_rewrites"`
	Partitions        int32             `yaml:"partitions"`         // for topics Tidemark creates; default 6
	ReplicationFactor int16             `yaml:"replication_factor"` // default -1: the broker's default
	Config            map[string]string `yaml:"config"`             // extra topic configs; cleanup.policy is always compact
	// RowsMoveBetweenShards: resharding moves rows (copy to the new shard,
	// then delete on the old one). A delete whose key another shard of the
	// same logical table holds is then a move and is not written (moves.go;
	// it costs a point query per other shard and batch of deletes).
	// Unnecessary with encoding.key_shard_field.
	RowsMoveBetweenShards bool `yaml:"rows_move_between_shards"`
}

// RewriteConfig is one database-name rewrite: an anchored regular expression
// and its replacement ($1 refers to a group).
type RewriteConfig struct {
	Match   string `yaml:"match"`
	Replace string `yaml:"replace"`
}

// EncodingConfig chooses among the wire format's options.
type EncodingConfig struct {
	// BigintUnsigned is "precise" (default: Avro decimal(20,0), exact) or
	// "long" (Debezium's default: wraps above 2^63-1).
	BigintUnsigned string `yaml:"bigint_unsigned"`
	// Tombstones after deletes, so compaction can drop the key; default true.
	Tombstones *bool `yaml:"tombstones"`
	// KeyShardField, when set, adds a string field of this name to every key
	// holding the shard's physical db.table, for primary keys that are not
	// unique across shards (Debezium's __dbz__physicalTableIdentifier).
	KeyShardField string `yaml:"key_shard_field"`

	// The deviations from Debezium (docs/wire-format.md): each is "exact"
	// (default, Tidemark's) or "debezium" (Debezium 3.6.1's output).

	// Year0000: YEAR 0000 as 0 (exact) or 1900 (debezium).
	Year0000 string `yaml:"year_0000"`
	// Year0Dates: DATE/DATETIME in year 0 as their value (exact), or like
	// a zero date (debezium: NULL, or a NOT NULL column's default).
	Year0Dates string `yaml:"year_0_dates"`
	// Latin1: latin1 bytes 0x81 0x8D 0x8F 0x90 0x9D as MariaDB converts
	// them (exact) or as U+FFFD (debezium).
	Latin1 string `yaml:"latin1"`
	// StringDefaults: string defaults as MariaDB stores them (exact) or
	// with the DDL's SQL escapes kept (debezium).
	StringDefaults string `yaml:"string_defaults"`
	// ContextHeaders adds Debezium 3.x's __debezium.context.* headers to
	// every record; default false.
	ContextHeaders bool `yaml:"context_headers"`
}

// LimitsConfig bounds memory per shard, in bytes.
type LimitsConfig struct {
	// QueueBytes bounds events read from the binlog and not yet encoded.
	QueueBytes ByteSize `yaml:"queue_bytes"`
	// InFlightBytes bounds records handed to Kafka and not yet acknowledged.
	InFlightBytes ByteSize `yaml:"inflight_bytes"`
}

// LargeRecordsConfig is the claim-check (docs/claim-check.md): a record
// above its topic's limit is compressed (zstd) and, still too big,
// encrypted into a blob store with a pointer record in its place.
type LargeRecordsConfig struct {
	// Store receives what compression cannot fit: gs://bucket[/prefix]
	// (Google Cloud Storage, Application Default Credentials) or
	// file:///abs/dir (development). Empty: compression only; a record
	// still too big then stops its shard, naming the table.
	Store string `yaml:"store"`
	// SecretEnv names the environment variable holding the secret that
	// keys the objects' encryption (largerecord/doc.go); needed to write,
	// never to read, and required with Store: without it an object's name
	// would give its key.
	SecretEnv string `yaml:"secret_env"`
	// Threshold, when set, is the record size (key + value + headers)
	// above which records are claim-checked; default: the topic's limit
	// (max.message.bytes, under the producer's batch limit) less 16KiB.
	Threshold ByteSize `yaml:"threshold"`
	// GC, when its interval is set, runs `tidemark largerecord gc` inside
	// the daemon: objects no record in Kafka references any more, older
	// than the grace period, are deleted.
	GC LargeRecordGCConfig `yaml:"gc"`
}

// LargeRecordGCConfig is the daemon's periodic large-record GC.
type LargeRecordGCConfig struct {
	// Interval between runs, the first one an interval after start. 0
	// (default): off; run `tidemark largerecord gc` from cron instead.
	Interval time.Duration `yaml:"interval"`
	// Grace keeps unreferenced objects younger than this: their record may
	// still be on its way to Kafka. It must outlast the longest a record
	// can wait between its object's write and Kafka's ack. Default 24h.
	Grace time.Duration `yaml:"grace"`
}

// minLargeRecordSecret is the shortest secret accepted for the objects'
// key derivation.
const minLargeRecordSecret = 16

func validateLargeRecords(add func(string, string, ...any), getenv func(string) string, c LargeRecordsConfig) {
	if c.Store != "" && !strings.HasPrefix(c.Store, "gs://") && !strings.HasPrefix(c.Store, "file:///") {
		add("large_records.store", "want gs://bucket[/prefix] or file:///absolute/dir, got %q", c.Store)
	}
	if c.Store != "" && c.SecretEnv == "" {
		add("large_records.secret_env", "required with large_records.store: the environment variable holding the secret that keys the objects' encryption (make one with: openssl rand -hex 32)")
	}
	if c.SecretEnv != "" {
		checkSecretEnv(add, getenv, "large_records.secret_env", c.SecretEnv)
		if s := getenv(c.SecretEnv); s != "" && len(s) < minLargeRecordSecret {
			add("large_records.secret_env", "the secret in %s is shorter than %d characters (make one with: openssl rand -hex 32)", c.SecretEnv, minLargeRecordSecret)
		}
	}
	if c.GC.Interval < 0 || (c.GC.Interval > 0 && c.GC.Interval < time.Second) {
		add("large_records.gc.interval", "want 0 (off) or at least 1s (hours, in production), got %s", c.GC.Interval)
	}
	if c.GC.Interval > 0 && c.Store == "" {
		add("large_records.gc.interval", "needs large_records.store: without a store there is nothing to collect")
	}
	if c.GC.Grace < 0 {
		add("large_records.gc.grace", "must be positive, got %s", c.GC.Grace)
	}
	if c.Threshold != "" {
		if n, err := parseByteSize(string(c.Threshold)); err != nil {
			add("large_records.threshold", "%v", err)
		} else if n < 1<<10 {
			add("large_records.threshold", "must be at least 1KiB, got %s", c.Threshold)
		}
	}
}

// ShardDefaults are the per-shard keys that most fleets share.
type ShardDefaults struct {
	User            string        `yaml:"user"`
	PasswordEnv     string        `yaml:"password_env"`
	Flavor          string        `yaml:"flavor"` // mariadb or mysql
	TLS             TLSConfig     `yaml:"tls"`
	Tables          []TableFilter `yaml:"tables"`
	HeartbeatPeriod time.Duration `yaml:"heartbeat_period"`
	// MinBinlogRetention is the shortest binlog retention a shard may have
	// (default 24h; a negative value such as -1s disables the check): a
	// shorter one lets a connector stopped over a weekend lose its position.
	MinBinlogRetention time.Duration `yaml:"min_binlog_retention"`
	// Start is what a shard without a stored position does: "current"
	// (default) streams from the server's current position, so changes
	// committed before it are not captured.
	Start string `yaml:"start"`
	// AcceptMissingPosition lets a shard start without a stored position
	// although the positions topic holds other shards' positions (a shard
	// added to a running fleet). Without it such a start is refused: it
	// usually means a renamed shard or a changed positions_topic, which would
	// silently skip everything since the shard's real position.
	AcceptMissingPosition bool `yaml:"accept_missing_position"`
	// AllowMinimalRowMetadata accepts a server without
	// binlog_row_metadata=FULL: table schemas then come from
	// information_schema, which gives rows written before a column rename,
	// an ENUM/SET reorder or a key change the new shape. Refused by default.
	AllowMinimalRowMetadata bool `yaml:"allow_minimal_row_metadata"`
	// OnXARollback is what an XA ROLLBACK of a transaction whose rows were
	// emitted at XA PREPARE does: "fail" (default) parks the shard,
	// "continue" goes on with a warning (after the operator re-snapshotted
	// what it changed).
	OnXARollback string `yaml:"on_xa_rollback"`
	// Snapshot is how the shard's incremental snapshots read (a shard's own
	// snapshot block overrides the keys it sets).
	Snapshot SnapshotConfig `yaml:"snapshot"`
}

// DefaultPauseWhenThreadsRunning is snapshot.pause_when_threads_running
// when no level sets it: pt-online-schema-change's --max-load default, a
// server busier than that is not one to add chunk queries to.
const DefaultPauseWhenThreadsRunning = 25

// DefaultMaxLatencyRisePercent is snapshot.max_latency_rise_percent when no
// level sets it: a snapshot may slow the source's responses by a fifth.
const DefaultMaxLatencyRisePercent = 20

// SnapshotConfig tunes incremental snapshots (snapshot/). Unset keys take
// the defaults' or snapshot's defaults.
type SnapshotConfig struct {
	ChunkSize *int `yaml:"chunk_size"` // rows per chunk (4096)
	Readers   *int `yaml:"readers"`    // chunk readers per table (4)
	// MaxRowsPerSecond caps the rows a shard's snapshots read per second (0: unpaced).
	MaxRowsPerSecond *int `yaml:"max_rows_per_second"`
	// MaxLatencyRisePercent paces the readers by the source's response
	// time: their rows/s (up to max_rows_per_second) follow what keeps it
	// within this many percent of its idle baseline (default 20; 0: off).
	MaxLatencyRisePercent *int `yaml:"max_latency_rise_percent"`
	// PauseWhenThreadsRunning holds the readers while the server's
	// Threads_running exceeds it (default 25; 0: never).
	PauseWhenThreadsRunning *int `yaml:"pause_when_threads_running"`
	// MaxReplicaLag holds the readers while a replica source lags more (0: never).
	MaxReplicaLag *time.Duration `yaml:"max_replica_lag"`
	// MemoryBytes bounds the chunk rows a shard holds (64MiB).
	MemoryBytes ByteSize `yaml:"memory_bytes"`
	// SignalTable ("db.table") switches to signal-table watermarks (rows
	// written on the source) for servers where the read-only GTID ones
	// cannot work; empty: GTID watermarks.
	SignalTable *string `yaml:"signal_table"`
}

// ShardConfig is one MySQL/MariaDB server whose binlog Tidemark tails.
type ShardConfig struct {
	Name string `yaml:"name"` // unique; labels metrics, names the position, becomes source.name
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // default 3306
	// Hosts, instead of Host and Port, lists the shard's servers as
	// host:port in the order they are tried: its primary, then replicas of
	// it (MariaDB GTID replicas with log_slave_updates). The shard streams
	// from one at a time; when it fails (unreachable, or a replica behind
	// the position), the next one takes over from the same GTID position.
	Hosts       []string   `yaml:"hosts"`
	User        string     `yaml:"user"`
	PasswordEnv string     `yaml:"password_env"`
	Flavor      string     `yaml:"flavor"`
	TLS         *TLSConfig `yaml:"tls"`
	// ServerID is the replica server_id Tidemark presents to this shard; it
	// must differ from every real server and replica of the shard.
	ServerID uint32        `yaml:"server_id"`
	Tables   []TableFilter `yaml:"tables"`
	// Start and AcceptMissingPosition override the defaults' (see ShardDefaults).
	Start                   string          `yaml:"start"`
	AcceptMissingPosition   *bool           `yaml:"accept_missing_position"`
	AllowMinimalRowMetadata *bool           `yaml:"allow_minimal_row_metadata"`
	OnXARollback            string          `yaml:"on_xa_rollback"`
	Snapshot                *SnapshotConfig `yaml:"snapshot"`

	// Keys that came from defaults: their problems are reported there, once.
	tablesInherited, passwordEnvInherited, tlsInherited bool
}

// TableFilter is an allow-list entry: tables of databases matching Database
// whose names match an Include pattern and no Exclude pattern. Patterns are
// shell globs (*, ?, [a-z]), matched case-sensitively.
type TableFilter struct {
	Database string   `yaml:"database"`
	Include  []string `yaml:"include"` // default ["*"]
	Exclude  []string `yaml:"exclude"`
}

// ByteSize is a size in bytes, written as an integer or with a unit: 512KiB,
// 64MiB, 1GiB (KB, MB and GB are powers of 1024 too). It stays text until
// validation so that a bad value is reported with its line.
type ByteSize string

// Bytes is the size; valid only after validation.
func (b ByteSize) Bytes() int64 {
	n, _ := parseByteSize(string(b))
	return n
}

func parseByteSize(text string) (int64, error) {
	s := strings.TrimSpace(text)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q: want a non-negative integer with an optional unit (KiB, MiB, GiB)", text)
	}
	if n > math.MaxInt64/mult { // "9007199254740992KiB" would wrap to 0 or a negative size
		return 0, fmt.Errorf("invalid size %q: more than %d bytes", text, int64(math.MaxInt64))
	}
	return n * mult, nil
}

// Start modes of a shard without a stored position.
const (
	// StartCurrent streams from the server's current position.
	StartCurrent = "current"
	// StartSnapshot streams from the server's current position and
	// snapshots every allow-listed table: the topics get each table's whole
	// state plus every later change. The default.
	StartSnapshot = "snapshot"
)

// Defaults.
const (
	defaultAdminListen    = "127.0.0.1:8085"
	defaultPositionsTopic = "tidemark.positions"
	defaultPrefix         = "tidemark"
	defaultPartitions     = 6
	defaultQueueBytes     = "16MiB"
	defaultInFlightBytes  = "16MiB"
	defaultMySQLPort      = 3306
)

// applyDefaults fills unset keys; shard keys fall back to Defaults.
func (c *Config) applyDefaults() {
	if c.Admin.Listen == "" {
		c.Admin.Listen = defaultAdminListen
	}
	if c.Kafka.PositionsTopic == "" {
		c.Kafka.PositionsTopic = defaultPositionsTopic
	}
	if c.Kafka.ClientID == "" {
		c.Kafka.ClientID = "tidemark"
	}
	if c.Kafka.Compression == "" {
		c.Kafka.Compression = "lz4"
	}
	if c.Kafka.Sink == "" {
		c.Kafka.Sink = "kafka"
	}
	if c.Kafka.Delivery == "" {
		c.Kafka.Delivery = DeliveryExactlyOnce
	}
	if c.Kafka.Transactions.Interval == 0 {
		c.Kafka.Transactions.Interval = defaultTxnInterval
	}
	if c.Kafka.Transactions.IDPrefix == "" {
		c.Kafka.Transactions.IDPrefix = defaultTxnIDPrefix
	}
	if c.Registry.Timeout == 0 {
		c.Registry.Timeout = 30 * time.Second
	}
	if c.Topics.Prefix == "" {
		c.Topics.Prefix = defaultPrefix
	}
	if c.Topics.Delimiter == "" {
		c.Topics.Delimiter = "."
	}
	if c.Topics.Partitions == 0 {
		c.Topics.Partitions = defaultPartitions
	}
	if c.Topics.ReplicationFactor == 0 {
		c.Topics.ReplicationFactor = -1
	}
	if c.Encoding.BigintUnsigned == "" {
		c.Encoding.BigintUnsigned = "precise"
	}
	if c.Encoding.Tombstones == nil {
		t := true
		c.Encoding.Tombstones = &t
	}
	for _, v := range []*string{&c.Encoding.Year0000, &c.Encoding.Year0Dates, &c.Encoding.Latin1, &c.Encoding.StringDefaults} {
		if *v == "" {
			*v = "exact"
		}
	}
	if c.Limits.QueueBytes == "" {
		c.Limits.QueueBytes = defaultQueueBytes
	}
	if c.Limits.InFlightBytes == "" {
		c.Limits.InFlightBytes = defaultInFlightBytes
	}
	if c.Defaults.Flavor == "" {
		c.Defaults.Flavor = string(change.FlavorMariaDB)
	}
	if c.Defaults.HeartbeatPeriod == 0 {
		c.Defaults.HeartbeatPeriod = time.Second
	}
	if c.Defaults.Start == "" {
		c.Defaults.Start = StartSnapshot
	}
	if c.Defaults.OnXARollback == "" {
		c.Defaults.OnXARollback = "fail"
	}
	for i := range c.Shards {
		s := &c.Shards[i]
		if s.Port == 0 && len(s.Hosts) == 0 {
			s.Port = defaultMySQLPort
		}
		if s.User == "" {
			s.User = c.Defaults.User
		}
		if s.PasswordEnv == "" {
			s.PasswordEnv, s.passwordEnvInherited = c.Defaults.PasswordEnv, true
		}
		if s.Flavor == "" {
			s.Flavor = c.Defaults.Flavor
		}
		if s.TLS == nil {
			t := c.Defaults.TLS
			s.TLS, s.tlsInherited = &t, true
		}
		if len(s.Tables) == 0 {
			s.Tables, s.tablesInherited = c.Defaults.Tables, true
		}
		if s.Start == "" {
			s.Start = c.Defaults.Start
		}
		if s.AcceptMissingPosition == nil {
			v := c.Defaults.AcceptMissingPosition
			s.AcceptMissingPosition = &v
		}
		if s.OnXARollback == "" {
			s.OnXARollback = c.Defaults.OnXARollback
		}
		if s.AllowMinimalRowMetadata == nil {
			v := c.Defaults.AllowMinimalRowMetadata
			s.AllowMinimalRowMetadata = &v
		}
	}
}

// fieldError is one validation problem, located by its YAML path
// ("shards[1].port") so LoadConfig can name the file's line.
type fieldError struct {
	path string
	msg  string
}

// validate reports every problem at once.
func (c *Config) validate(getenv func(string) string) []fieldError {
	var errs []fieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path, fmt.Sprintf(format, args...)})
	}
	validateAdmin(add, getenv, c.Admin)
	validateLargeRecords(add, getenv, c.LargeRecords)
	if c.Kafka.Sink != "kafka" && c.Kafka.Sink != "discard" {
		add("kafka.sink", "want kafka or discard, got %q", c.Kafka.Sink)
	}
	if c.Kafka.Delivery != DeliveryExactlyOnce && c.Kafka.Delivery != DeliveryAtLeastOnce {
		add("kafka.delivery", "want exactly_once or at_least_once, got %q", c.Kafka.Delivery)
	}
	if t := c.Kafka.Transactions; t.Interval < time.Millisecond || t.Interval > time.Minute {
		add("kafka.transactions.interval", "want between 1ms and 1m, got %s", t.Interval)
	}
	if t := c.Kafka.Transactions; t.Timeout != 0 && (t.Timeout < 10*t.Interval || t.Timeout > time.Hour) {
		add("kafka.transactions.timeout", "want at least ten intervals (%s) and at most 1h (and the brokers' transaction.max.timeout.ms, 15m by default), got %s", 10*t.Interval, t.Timeout)
	}
	if c.Kafka.Transactions.MaxRecords < 0 {
		add("kafka.transactions.max_records", "must be positive, got %d", c.Kafka.Transactions.MaxRecords)
	}
	if len(c.Kafka.Brokers) == 0 {
		add("kafka.brokers", "required: at least one host:port")
	}
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			add(fmt.Sprintf("kafka.brokers[%d]", i), "want host:port, got %q", b)
		}
	}
	switch c.Kafka.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		add("kafka.compression", "want none, gzip, snappy, lz4 or zstd, got %q", c.Kafka.Compression)
	}
	validateTLS(add, "kafka.tls", c.Kafka.TLS)
	validateSecret(add, getenv, "kafka.sasl", c.Kafka.SASL.Mechanism != "", c.Kafka.SASL.PasswordEnv)
	switch c.Kafka.SASL.Mechanism {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		add("kafka.sasl.mechanism", "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.Kafka.SASL.Mechanism)
	}
	if c.Kafka.SASL.Mechanism != "" && c.Kafka.SASL.Username == "" {
		add("kafka.sasl.username", "required when kafka.sasl.mechanism is set")
	}
	if c.Registry.URL == "" {
		add("registry.url", "required: the Confluent-compatible Schema Registry URL")
	} else if !strings.HasPrefix(c.Registry.URL, "http://") && !strings.HasPrefix(c.Registry.URL, "https://") {
		add("registry.url", "want an http:// or https:// URL, got %q", RedactURL(c.Registry.URL))
	} else if u, err := url.Parse(c.Registry.URL); err != nil || u.Host == "" {
		// Not err itself: url's errors quote the URL, credentials included.
		add("registry.url", "%q is not a valid URL: want http(s)://host[:port][/path]", RedactURL(c.Registry.URL))
	}
	validateTLS(add, "registry.tls", c.Registry.TLS)
	validateSecret(add, getenv, "registry", c.Registry.Username != "", c.Registry.PasswordEnv)
	if !avroName.MatchString(strings.ReplaceAll(c.Topics.Prefix, ".", "_")) {
		add("topics.prefix", "%q: use letters, digits, '_' and '.' (it becomes the Avro namespace)", c.Topics.Prefix)
	}
	if !topicChars.MatchString(c.Topics.Delimiter) {
		add("topics.delimiter", "%q: a topic name allows letters, digits, '.', '_' and '-'", c.Topics.Delimiter)
	}
	for i, r := range c.Topics.DatabaseRewrites {
		if _, err := regexp.Compile("^(?:" + r.Match + ")$"); err != nil || r.Match == "" {
			add(fmt.Sprintf("topics.database_rewrites[%d].match", i), "invalid regular expression %q: %v", r.Match, err)
		}
	}
	if c.Topics.RowsMoveBetweenShards && c.Encoding.KeyShardField != "" {
		add("topics.rows_move_between_shards", "not needed with encoding.key_shard_field: every shard's keys are distinct, a move is a delete of one key and a create of another")
	}
	if c.Topics.Partitions < 1 {
		add("topics.partitions", "must be at least 1")
	}
	if c.Topics.ReplicationFactor < -1 || c.Topics.ReplicationFactor == 0 {
		add("topics.replication_factor", "must be -1 (broker default) or at least 1")
	}
	if c.Encoding.BigintUnsigned != "precise" && c.Encoding.BigintUnsigned != "long" {
		add("encoding.bigint_unsigned", "want precise or long, got %q", c.Encoding.BigintUnsigned)
	}
	for key, v := range map[string]string{"encoding.year_0000": c.Encoding.Year0000, "encoding.year_0_dates": c.Encoding.Year0Dates,
		"encoding.latin1": c.Encoding.Latin1, "encoding.string_defaults": c.Encoding.StringDefaults} {
		if v != "exact" && v != "debezium" {
			add(key, "want exact or debezium, got %q", v)
		}
	}
	for key, v := range map[string]ByteSize{"limits.queue_bytes": c.Limits.QueueBytes, "limits.inflight_bytes": c.Limits.InFlightBytes} {
		if n, err := parseByteSize(string(v)); err != nil {
			add(key, "%v", err)
		} else if n < 1<<20 {
			add(key, "must be at least 1MiB, got %s", v)
		}
	}
	if len(c.Shards) == 0 {
		add("shards", "required: at least one shard")
	}
	names := map[string]int{}
	for i := range c.Shards {
		s := &c.Shards[i]
		p := fmt.Sprintf("shards[%d]", i)
		if s.Name == "" {
			add(p+".name", "required")
		} else if !shardName.MatchString(s.Name) {
			add(p+".name", "%q: use letters, digits, '_', '-' and '.'", s.Name)
		} else if j, dup := names[s.Name]; dup {
			add(p+".name", "%q is also the name of shards[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		validateHosts(add, p, s)
		if s.User == "" {
			add(p+".user", "required (here or in defaults.user)")
		}
		if s.PasswordEnv == "" {
			add(p+".password_env", "required (here or in defaults.password_env): the environment variable holding the password")
		} else if !s.passwordEnvInherited {
			validateSecret(add, getenv, p, true, s.PasswordEnv)
		}
		if s.Flavor != string(change.FlavorMariaDB) && s.Flavor != string(change.FlavorMySQL) {
			add(p+".flavor", "want mariadb or mysql, got %q", s.Flavor)
		}
		if s.ServerID == 0 {
			add(p+".server_id", "required: a replica server_id unique among the shard's servers and replicas")
		}
		if !validStart(s.Start) && s.Start != c.Defaults.Start { // an inherited bad value is reported once, at defaults.start
			add(p+".start", "want snapshot or current, got %q", s.Start)
		}
		if s.Snapshot != nil {
			validateSnapshot(add, p+".snapshot", *s.Snapshot)
		}
		if s.OnXARollback != "fail" && s.OnXARollback != "continue" && s.OnXARollback != c.Defaults.OnXARollback {
			add(p+".on_xa_rollback", "want fail or continue, got %q", s.OnXARollback)
		}
		if s.TLS != nil {
			validateTLS(add, p+".tls", *s.TLS)
		}
		if len(s.Tables) == 0 {
			add(p+".tables", "required (here or in defaults.tables): which tables to capture")
		}
		if !s.tablesInherited {
			validateTables(add, p+".tables", s.Tables)
		}
	}
	validateTables(add, "defaults.tables", c.Defaults.Tables)
	if !validStart(c.Defaults.Start) {
		add("defaults.start", "want snapshot or current, got %q", c.Defaults.Start)
	}
	validateSnapshot(add, "defaults.snapshot", c.Defaults.Snapshot)
	if c.Defaults.OnXARollback != "fail" && c.Defaults.OnXARollback != "continue" {
		add("defaults.on_xa_rollback", "want fail or continue, got %q", c.Defaults.OnXARollback)
	}
	if env := c.Defaults.PasswordEnv; env != "" {
		validateSecret(add, getenv, "defaults", true, env)
	}
	return errs
}

var (
	avroName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	shardName  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	topicChars = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// validateHosts checks a shard's servers: host and port, or hosts (a list of
// host:port tried in order), not both.
func validateHosts(add func(string, string, ...any), p string, s *ShardConfig) {
	if len(s.Hosts) == 0 {
		if s.Host == "" {
			add(p+".host", "required (or hosts: a list of host:port, the primary first)")
		}
		if s.Port < 1 || s.Port > 65535 {
			add(p+".port", "must be 1..65535, got %d", s.Port)
		}
		return
	}
	if s.Host != "" || s.Port != 0 {
		add(p+".hosts", "give either host and port or hosts, not both")
	}
	seen := map[string]int{}
	for j, h := range s.Hosts {
		hp := fmt.Sprintf("%s.hosts[%d]", p, j)
		host, port, err := net.SplitHostPort(h)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil || host == "":
			add(hp, "want host:port, got %q", h)
			continue
		case perr != nil || n < 1 || n > 65535:
			add(hp, "port must be 1..65535, got %q", port)
			continue
		}
		key := net.JoinHostPort(strings.ToLower(host), strconv.Itoa(n))
		if k, dup := seen[key]; dup {
			add(hp, "%s is also %s.hosts[%d]", h, p, k)
			continue
		}
		seen[key] = j
	}
}

// Addrs are the shard's servers as host:port, in the order they are tried.
func (s *ShardConfig) Addrs() []string {
	if len(s.Hosts) > 0 {
		return append([]string(nil), s.Hosts...)
	}
	return []string{net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
}

func validateTables(add func(string, string, ...any), p string, tables []TableFilter) {
	for j, f := range tables {
		fp := fmt.Sprintf("%s[%d]", p, j)
		if f.Database == "" {
			add(fp+".database", "required: a database name or glob pattern")
		}
		for _, pat := range append(append([]string{f.Database}, f.Include...), f.Exclude...) {
			if _, err := path.Match(pat, ""); err != nil {
				add(fp, "bad glob pattern %q: %v", pat, err)
			}
		}
	}
}

func validateTLS(add func(string, string, ...any), p string, t TLSConfig) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		add(p, "cert_file and key_file go together")
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.InsecureSkipVerify) {
		add(p+".enabled", "TLS options are set but enabled is false")
	}
}

func validateSecret(add func(string, string, ...any), getenv func(string) string, p string, needed bool, env string) {
	if !needed {
		return
	}
	if env == "" {
		add(p+".password_env", "required: the environment variable holding the password")
		return
	}
	checkSecretEnv(add, getenv, p+".password_env", env)
}

// envName is what a *_env key holds. Anything else may be the secret itself,
// pasted into the wrong key: the error then does not repeat it. An unset
// variable is named only if it looks like one by convention (upper case):
// a pasted password can look like a valid name too.
var (
	envName             = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	conventionalEnvName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// checkSecretEnv checks that key names a set environment variable.
func checkSecretEnv(add func(string, string, ...any), getenv func(string) string, key, env string) {
	switch {
	case !envName.MatchString(env):
		add(key, "must be the name of an environment variable (letters, digits, '_'), not the secret itself")
	case getenv(env) != "":
	case conventionalEnvName.MatchString(env):
		add(key, "environment variable %s is not set or empty", env)
	default:
		add(key, "the environment variable it names is not set or empty (the key holds a variable's name, never the secret)")
	}
}

func validateAdmin(add func(string, string, ...any), getenv func(string) string, a AdminConfig) {
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		add("admin.listen", "want host:port, got %q", a.Listen)
		return
	}
	if a.TokenEnv != "" {
		checkSecretEnv(add, getenv, "admin.token_env", a.TokenEnv)
		if tok := getenv(a.TokenEnv); tok != "" && len(tok) < minAdminToken {
			add("admin.token_env", "the token in %s is shorter than %d characters (make one with: openssl rand -hex 32)", a.TokenEnv, minAdminToken)
		}
	} else if !loopbackHost(host) {
		add("admin.listen", "%s is not a loopback address: set admin.token_env (the bearer token for state-changing requests), or listen on 127.0.0.1", a.Listen)
	}
}

// loopbackHost reports whether a listen host binds only loopback
// interfaces. It resolves nothing (validation contacts nothing): a name
// other than localhost counts as reachable from elsewhere, and so does ""
// (every interface).
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func validStart(s string) bool { return s == StartCurrent || s == StartSnapshot }

func validateSnapshot(add func(string, string, ...any), p string, c SnapshotConfig) {
	check := func(key string, v *int, lo, hi int) {
		if v != nil && (*v < lo || *v > hi) {
			add(p+"."+key, "must be %d..%d, got %d", lo, hi, *v)
		}
	}
	check("chunk_size", c.ChunkSize, 1, 1_000_000)
	check("readers", c.Readers, 1, 64)
	check("max_rows_per_second", c.MaxRowsPerSecond, 0, 1<<30)
	check("pause_when_threads_running", c.PauseWhenThreadsRunning, 0, 1<<20)
	check("max_latency_rise_percent", c.MaxLatencyRisePercent, 0, 10_000)
	if c.SignalTable != nil && *c.SignalTable != "" && strings.Count(*c.SignalTable, ".") != 1 {
		add(p+".signal_table", "want database.table, got %q", *c.SignalTable)
	}
	if c.MaxReplicaLag != nil && *c.MaxReplicaLag < 0 {
		add(p+".max_replica_lag", "must not be negative")
	}
	if c.MemoryBytes != "" {
		if n, err := parseByteSize(string(c.MemoryBytes)); err != nil {
			add(p+".memory_bytes", "%v", err)
		} else if n < 1<<20 {
			add(p+".memory_bytes", "must be at least 1MiB, got %s", c.MemoryBytes)
		}
	}
}

// snapshotConfig resolves a shard's snapshot settings: its own keys over the
// defaults' over snapshot's.
func (s *ShardConfig) snapshotConfig(d SnapshotConfig) snapshot.Config {
	own := SnapshotConfig{}
	if s.Snapshot != nil {
		own = *s.Snapshot
	}
	pick := func(a, b *int) int {
		switch {
		case a != nil:
			return *a
		case b != nil:
			return *b
		}
		return 0
	}
	c := snapshot.Config{
		ChunkSize: pick(own.ChunkSize, d.ChunkSize), Readers: pick(own.Readers, d.Readers),
		MaxRowsPerSecond: pick(own.MaxRowsPerSecond, d.MaxRowsPerSecond), PauseThreadsRunning: DefaultPauseWhenThreadsRunning,
	}
	c.MaxLatencyRise = DefaultMaxLatencyRisePercent / 100.0
	if own.MaxLatencyRisePercent != nil || d.MaxLatencyRisePercent != nil {
		c.MaxLatencyRise = float64(pick(own.MaxLatencyRisePercent, d.MaxLatencyRisePercent)) / 100 // 0: off
	}
	if own.PauseWhenThreadsRunning != nil || d.PauseWhenThreadsRunning != nil {
		c.PauseThreadsRunning = pick(own.PauseWhenThreadsRunning, d.PauseWhenThreadsRunning) // 0: never
	}
	switch {
	case own.MaxReplicaLag != nil:
		c.MaxReplicaLag = *own.MaxReplicaLag
	case d.MaxReplicaLag != nil:
		c.MaxReplicaLag = *d.MaxReplicaLag
	}
	switch {
	case own.SignalTable != nil:
		c.SignalTable = *own.SignalTable
	case d.SignalTable != nil:
		c.SignalTable = *d.SignalTable
	}
	switch {
	case own.MemoryBytes != "":
		c.MemoryBytes = own.MemoryBytes.Bytes()
	case d.MemoryBytes != "":
		c.MemoryBytes = d.MemoryBytes.Bytes()
	}
	return c
}
