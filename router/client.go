package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// sink is the part of the Kafka client that the write path uses. *kgo.Client
// implements it; unit tests substitute a fake that acknowledges records in
// exact interleavings.
type sink interface {
	// Produce buffers r and calls promise once Kafka acknowledged it or the
	// client gave up on it. Promises are called one at a time, in order
	// within a partition.
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	// Flush waits until every buffered record's promise has been called.
	Flush(ctx context.Context) error
}

// conn is the Writer's Kafka connection, created on first use.
type conn struct {
	cl   *kgo.Client // nil in unit tests
	adm  *kadm.Client
	sink sink
}

// connect returns the connection, creating it on first use: the client is
// created and a seed broker must answer within ConnectTimeout, otherwise an
// *UnreachableError names the brokers. Concurrent callers wait for one
// attempt; a failed attempt is retried by the next call.
func (w *Writer) connect(ctx context.Context) (*conn, error) {
	w.connMu.Lock()
	defer w.connMu.Unlock()
	if w.conn != nil {
		return w.conn, nil
	}
	if err := w.stopErr(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(w.producerOpts()...)
	if err != nil {
		return nil, fmt.Errorf("shard %s: create kafka client: %w", w.shard, err)
	}
	pctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, ok := errors.AsType[*kerr.Error](err); ok { // reached, but refused us (SASL, version)
			return nil, fmt.Errorf("shard %s: connect to kafka %v: %w", w.shard, w.cfg.Brokers, err)
		}
		return nil, &UnreachableError{Brokers: w.cfg.Brokers, Timeout: w.cfg.ConnectTimeout, Err: err}
	}
	if err := w.fence(pctx, cl); err != nil { // exactly once: before anything reads the position
		cl.Close()
		return nil, err
	}
	w.conn = &conn{cl: cl, adm: kadm.NewClient(cl), sink: cl}
	return w.conn, nil
}

// commonOpts are the connection options shared by the producer and the
// short-lived consumer of LoadPosition.
func (w *Writer) commonOpts() []kgo.Opt {
	return ClientOptions(w.cfg, w.log)
}

// ClientOptions are the franz-go options that connect to cfg's cluster:
// seed brokers, client id, TLS, SASL, logging and metadata refresh. Every
// Kafka client of Tidemark starts from them (the Writer's producer, its
// position reader, `tidemark tail`'s consumer), so TLS and SASL behave the
// same everywhere. With TLS, a tls.Config without ServerName is verified
// against each broker's dial host (franz-go sets it per connection).
// Callers append their own options (producing, consuming).
func ClientOptions(cfg Config, log *slog.Logger) []kgo.Opt {
	cfg = cfg.withDefaults()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.WithLogger(kgoLogger{log.With("component", "kafka")}),
		// New topics (EnsureTopic) must become visible to the producer
		// quickly; the default 5s would delay a new table's first records.
		kgo.MetadataMinAge(time.Second),
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	if s := cfg.SASL; s != nil {
		switch s.Mechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.User, Pass: s.Password}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism()))
		}
	}
	return opts
}

// producerOpts configure the delivery contract: idempotent acks=all
// production (kgo's default, stated here so nobody turns it off) keeps
// per-partition order with up to 5 requests in flight per broker and retries
// without duplicates; records are retried until DeliveryTimeout; our
// partitioner; no automatic topic creation (EnsureTopic creates compacted
// topics); kgo's own buffer limits are set above the Writer's byte budget so
// that Produce never blocks (the budget is the one bound).
func (w *Writer) producerOpts() []kgo.Opt {
	return append(append(w.commonOpts(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(partitioner),
		kgo.ProducerLinger(w.cfg.Linger),
		kgo.ProducerBatchMaxBytes(w.cfg.BatchMaxBytes),
		kgo.ProducerBatchCompression(compressionCodec(w.cfg.Compression)),
		kgo.RecordDeliveryTimeout(w.cfg.DeliveryTimeout),
		kgo.MaxBufferedRecords(int(min(w.cfg.MaxInFlightBytes/recordOverhead+1024, math.MaxInt32))),
	), w.txnOpts()...)
}

func compressionCodec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// kgoLogger passes the client's warnings and errors (broker connection
// trouble, metadata failures it retries) to slog at warning level: they are
// context for an operator, not failures of the shard (those come back as
// errors from Run).
type kgoLogger struct{ log *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level > kgo.LogLevelWarn || level == kgo.LogLevelNone {
		return
	}
	l.log.Warn(msg, keyvals...)
}
