package router

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tidemark-cdc/tidemark/change"
)

// Defaults applied by NewWriter to zero-valued Config fields.
const (
	DefaultClientID            = "tidemark"
	DefaultPositionsTopic      = "tidemark.positions"
	DefaultPositionsPartitions = 1
	DefaultMaxInFlightBytes    = 32 << 20
	DefaultLinger              = 5 * time.Millisecond
	// DefaultBatchMaxBytes is Kafka's own client default (1,000,012 bytes),
	// just under the broker's default max.message.bytes (1,048,588): a single
	// record larger than this fails with MESSAGE_TOO_LARGE before it is sent.
	DefaultBatchMaxBytes = 1_000_012
	// DefaultCompression is lz4: the cheapest codec in producer CPU that
	// still shrinks Avro envelopes well; every Kafka client since 0.10 reads it.
	DefaultCompression     = "lz4"
	DefaultCommitInterval  = 250 * time.Millisecond
	DefaultDeliveryTimeout = 2 * time.Minute // Kafka's delivery.timeout.ms
	DefaultDrainTimeout    = 15 * time.Second
	DefaultConnectTimeout  = 15 * time.Second
	// DefaultTransactionTimeout is the broker-side limit of one Kafka
	// transaction (transaction.timeout.ms): under the brokers' default
	// transaction.max.timeout.ms (15 minutes), far over a commit interval,
	// and the bound on how long one MySQL transaction may take to stream.
	DefaultTransactionTimeout    = 5 * time.Minute
	DefaultTransactionMaxRecords = 100_000
)

// Compression codecs accepted in Config.Compression.
var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// SASL mechanisms accepted in SASL.Mechanism.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Config configures the Writer of one shard. Zero values take the defaults
// above; Validate reports every problem at once.
type Config struct {
	Brokers  []string // seed brokers, host:port
	ClientID string   // Kafka client.id; the daemon appends the shard name

	TLS  *tls.Config // nil = plaintext
	SASL *SASL       // nil = no authentication

	// Partitions and ReplicationFactor apply to data topics Tidemark
	// creates. 0 means the broker's default (num.partitions,
	// default.replication.factor).
	Partitions        int32
	ReplicationFactor int16
	// TopicConfig holds extra configs for created data topics.
	// cleanup.policy is always compact (it may be "compact,delete", never
	// without compact).
	TopicConfig map[string]string

	// PositionsTopic stores every shard's position (key = shard name). It
	// is created when missing, compacted, with PositionsPartitions
	// partitions (default 1; see positions.go for the trade-off) and
	// short segments so that LoadPosition reads little.
	PositionsTopic      string
	PositionsPartitions int32

	// MaxInFlightBytes bounds the memory of records written but not yet
	// acknowledged (key + value + headers + a fixed per-record overhead).
	// Write blocks while the bound is reached.
	MaxInFlightBytes int64

	Linger        time.Duration // how long a partition's batch waits for more records
	BatchMaxBytes int32         // max uncompressed record batch (and single record) size
	Compression   string        // none, gzip, snappy, lz4, zstd

	// CommitInterval is how often the position is committed while records
	// are acknowledged. A position is also committed once on shutdown.
	CommitInterval time.Duration
	// DeliveryTimeout bounds how long the client retries a record before
	// giving up (which fails Run; a restart replays from the position).
	DeliveryTimeout time.Duration
	// DrainTimeout bounds the flush and final commit after Run's context
	// is cancelled or a produce error stopped the writer.
	DrainTimeout time.Duration
	// ConnectTimeout bounds the first contact with the brokers.
	ConnectTimeout time.Duration

	// OnCommit, when set, is called with each position once Kafka has
	// stored it (from Run's goroutine; it must not block).
	OnCommit func(change.Position)

	// TransactionalID, when set, makes delivery exactly once (txn.go): the
	// records and the position are written in Kafka transactions under
	// this id, one per shard and stable across restarts, committed every
	// CommitInterval (or TransactionMaxRecords) at a MySQL transaction
	// boundary. A newer Writer with the same id fences this one
	// (ErrFenced). Empty: at least once.
	TransactionalID string
	// TransactionTimeout is Kafka's transaction.timeout.ms: a MySQL
	// transaction must stream within it (it is one Kafka transaction).
	TransactionTimeout time.Duration
	// TransactionMaxRecords commits early, at the next boundary, once a
	// transaction holds this many records.
	TransactionMaxRecords int
}

// SASL holds credentials. Its String, GoString and LogValue methods redact
// the password, so a SASL or a Config can be printed or logged safely.
type SASL struct {
	Mechanism string // "SCRAM-SHA-256", "SCRAM-SHA-512" or "PLAIN"
	User      string
	Password  string // from the environment; never printed
}

const redacted = "[REDACTED]"

func (s SASL) String() string {
	pw := ""
	if s.Password != "" {
		pw = redacted
	}
	return fmt.Sprintf("{Mechanism:%s User:%s Password:%s}", s.Mechanism, s.User, pw)
}

// GoString keeps %#v from printing the password.
func (s SASL) GoString() string { return "router.SASL" + s.String() }

// LogValue keeps slog from printing the password.
func (s SASL) LogValue() slog.Value {
	return slog.GroupValue(slog.String("mechanism", s.Mechanism), slog.String("user", s.User),
		slog.String("password", redacted))
}

// withDefaults returns c with zero-valued fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.PositionsTopic == "" {
		c.PositionsTopic = DefaultPositionsTopic
	}
	if c.PositionsPartitions == 0 {
		c.PositionsPartitions = DefaultPositionsPartitions
	}
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	c.Compression = strings.ToLower(c.Compression)
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.DeliveryTimeout == 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.TransactionMaxRecords == 0 {
		c.TransactionMaxRecords = DefaultTransactionMaxRecords
	}
	if c.SASL != nil {
		s := *c.SASL
		s.Mechanism = strings.ToUpper(s.Mechanism)
		c.SASL = &s
	}
	return c
}

// Validate reports every invalid setting at once, after defaults. Its
// messages never contain the SASL password.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Brokers) == 0 {
		bad("brokers: none given")
	}
	for _, b := range c.Brokers {
		if strings.TrimSpace(b) == "" || !strings.Contains(b, ":") {
			bad("brokers: %q is not host:port", b)
		}
	}
	if c.Partitions < 0 {
		bad("partitions: %d is negative (0 = broker default)", c.Partitions)
	}
	if c.ReplicationFactor < 0 {
		bad("replication factor: %d is negative (0 = broker default)", c.ReplicationFactor)
	}
	for _, k := range slices.Sorted(maps.Keys(c.TopicConfig)) {
		switch {
		case strings.TrimSpace(k) == "":
			bad("topic config: empty key")
		case k == "cleanup.policy" && !strings.Contains(c.TopicConfig[k], "compact"):
			bad("topic config: cleanup.policy=%q: data topics must be compacted (keys are rows, tombstones delete them)", c.TopicConfig[k])
		}
	}
	if !validTopicName(c.PositionsTopic) {
		bad("positions topic: %q is not a valid Kafka topic name", c.PositionsTopic)
	}
	if c.PositionsPartitions < 1 {
		bad("positions partitions: %d, want at least 1", c.PositionsPartitions)
	}
	if c.MaxInFlightBytes < 1<<20 {
		bad("max in-flight bytes: %d, want at least 1 MiB", c.MaxInFlightBytes)
	}
	if c.Linger < 0 || c.Linger > time.Second {
		bad("linger: %s, want between 0 and 1s", c.Linger)
	}
	if c.BatchMaxBytes < 512 || c.BatchMaxBytes > 1<<30 {
		bad("batch max bytes: %d, want between 512 and 1 GiB", c.BatchMaxBytes)
	}
	if !slices.Contains(compressions, c.Compression) {
		bad("compression: %q, want one of %s", c.Compression, strings.Join(compressions, ", "))
	}
	if c.CommitInterval < 0 {
		bad("commit interval: %s is negative", c.CommitInterval)
	}
	if c.DeliveryTimeout < 0 {
		bad("delivery timeout: %s is negative", c.DeliveryTimeout)
	}
	if c.DrainTimeout < 0 {
		bad("drain timeout: %s is negative", c.DrainTimeout)
	}
	if c.ConnectTimeout < 0 {
		bad("connect timeout: %s is negative", c.ConnectTimeout)
	}
	if c.TransactionalID != "" {
		if c.TransactionTimeout < time.Second || c.TransactionTimeout > time.Hour {
			bad("transaction timeout: %s, want between 1s and 1h (and at most the brokers' transaction.max.timeout.ms, 15m by default)", c.TransactionTimeout)
		}
		if c.TransactionTimeout <= 2*c.CommitInterval {
			bad("transaction timeout %s must exceed two commit intervals (%s)", c.TransactionTimeout, c.CommitInterval)
		}
		if c.TransactionMaxRecords < 1 {
			bad("transaction max records: %d, want at least 1", c.TransactionMaxRecords)
		}
	}
	if s := c.SASL; s != nil {
		if !slices.Contains(saslMechanisms, s.Mechanism) {
			bad("sasl: mechanism %q, want one of %s", s.Mechanism, strings.Join(saslMechanisms, ", "))
		}
		if s.User == "" {
			bad("sasl: user is empty")
		}
		if s.Password == "" {
			bad("sasl: password is empty (is its environment variable set?)")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// String summarises the configuration without secrets.
func (c Config) String() string {
	sasl := "none"
	if c.SASL != nil {
		sasl = c.SASL.Mechanism + " user=" + c.SASL.User + " password=" + redacted
	}
	return fmt.Sprintf("brokers=%v client_id=%s tls=%t sasl=%s partitions=%d replication_factor=%d "+
		"positions_topic=%s max_in_flight_bytes=%d linger=%s batch_max_bytes=%d compression=%s transactional_id=%q",
		c.Brokers, c.ClientID, c.TLS != nil, sasl, c.Partitions, c.ReplicationFactor,
		c.PositionsTopic, c.MaxInFlightBytes, c.Linger, c.BatchMaxBytes, c.Compression, c.TransactionalID)
}

// GoString keeps %#v from printing the password.
func (c Config) GoString() string { return "router.Config{" + c.String() + "}" }

// LogValue keeps slog from printing the password.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
