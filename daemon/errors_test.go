package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	pingcap "github.com/pingcap/errors"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// TestClassify covers every sentinel and typed error the stages return,
// wrapped the way they reach the supervisor, and checks both the class and
// what the supervisor does with it.
func TestClassify(t *testing.T) {
	conn := func(err error) error {
		return inStage(stageBinlog, &binlog.ConnectionError{Err: fmt.Errorf("binlog: shard s: read binlog: %w", err)})
	}
	produce := func(err error) error {
		return inStage(stageKafka, &router.ProduceError{Shard: "s", Topic: "t", Partition: 1, Err: err})
	}
	registry := func(status int) error {
		return inStage(stageEncode, fmt.Errorf("encode c event: %w", &serde.RegistryError{Op: "register subject t-value", StatusCode: status}))
	}
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name   string
		err    error
		class  string
		policy RetryPolicy
	}{
		{"panic", &change.PanicError{Stage: "encode", Value: "boom"}, "internal", Terminal},
		{"wrapped panic", fmt.Errorf("x: %w", &change.PanicError{Value: "boom"}), "internal", Terminal},

		// The source server.
		{"access denied at connect", conn(fmt.Errorf("user %q: %w", "cdc", mysql.ErrAccessDenied)), "access_denied", Terminal},
		{"access denied in check", inStage(stageBinlog, fmt.Errorf("check: %w", mysql.ErrAccessDenied)), "access_denied", Terminal},
		{"position lost", conn(fmt.Errorf("gtid 1-1-5: %w", mysql.ErrPositionLost)), "position_lost", Terminal},
		{"position lost in prerequisites", &binlog.PrerequisiteError{Shard: "s", Problems: []string{"purged"}}, "prerequisites", Terminal},
		{"history diverged", inStage(stageBinlog, fmt.Errorf("x: %w", binlog.ErrHistoryDiverged)), "position_lost", Terminal},
		{"replica behind, in place", conn(mysql.Mark(binlog.ErrHostBehind, errors.New("has not yet logged 1-1-9"))), "host_behind", Transient},
		{"replica behind, in check", inStage(stageBinlog, mysql.Mark(binlog.ErrHostBehind, errors.New("has not yet logged 1-1-9"))), "host_behind", Transient},
		{"position without GTIDs elsewhere", inStage(stageBinlog, &binlog.PrerequisiteError{Shard: "s", Problems: []string{"file and offset"}}), "prerequisites", Terminal},
		{"position without GTIDs elsewhere, in place", inStage(stageBinlog, mysql.Mark(binlog.ErrPositionNotPortable, errors.New("server_id 1"))), "position_not_portable", Terminal},
		{"missing position", fmt.Errorf("shard s: %w in positions topic p", ErrMissingPosition), "missing_position", Terminal},
		{"runtime server setting", inStage(stageBinlog, fmt.Errorf("partial row image: %w", binlog.ErrServerSetting)), "prerequisites", Terminal},
		{"server id conflict", inStage(stageBinlog, fmt.Errorf("x: %w: %w", binlog.ErrServerIDConflict, mysql.ErrServerIDClash)), "server_id_conflict", Terminal},
		{"one server id clash", conn(fmt.Errorf("server_id 5: %w", mysql.ErrServerIDClash)), "mysql", Transient},
		{"incident", inStage(stageBinlog, fmt.Errorf("x: %w", binlog.ErrIncident)), "incident", Terminal},
		{"bad stored position", inStage(stageBinlog, fmt.Errorf("x: %w", binlog.ErrInvalidPosition)), "corrupt_position", Terminal},
		{"corrupt stored position", inStage(stageKafka, fmt.Errorf("x: %w", router.ErrCorruptPosition)), "corrupt_position", Terminal},
		{"undecodable value", inStage(stageBinlog, fmt.Errorf("decode rows: %w", mysql.ErrUndecodable)), "decode", Terminal},
		{"unsupported type", fmt.Errorf("x: %w", &schema.UnsupportedTypeError{Table: "d.t", Column: "c"}), "schema", Terminal},
		{"schema unknown", inStage(stageBinlog, fmt.Errorf("x: %w", binlog.ErrSchemaUnknown)), "schema", Terminal},
		{"no primary key", noPrimaryKeyError("s", "d", "t"), "schema", Terminal},
		{"sink failed", inStage(stageBinlog, fmt.Errorf("x: %w", binlog.ErrSinkFailed)), "internal", Terminal},
		{"network reset", conn(fmt.Errorf("read: %w", syscall.ECONNRESET)), "mysql", Transient},
		{"catalog query's connection lost", inStage(stageBinlog, fmt.Errorf("decode rows: read server version: query %q: %w: %w",
			"SELECT VERSION()", mysql.ErrConnectionLost, errors.New("io.ReadFull(header) failed. err EOF: connection was bad"))), "mysql", Transient},
		{"eof", conn(io.ErrUnexpectedEOF), "mysql", Transient},
		{"too many connections", conn(pingcap.Trace(gomysql.NewError(1040, "Too many connections"))), "mysql", Transient},
		{"connection killed", conn(gomysql.NewError(1927, "Connection was killed")), "mysql", Transient},
		{"server shutdown in a query", inStage(stageBinlog, fmt.Errorf("query: %w", gomysql.NewError(1053, "Server shutdown in progress"))), "mysql", Transient},
		{"missing privilege", inStage(stageBinlog, gomysql.NewError(gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR, "need SUPER")), "mysql_rejected", Terminal},
		{"binlog fatal error", conn(gomysql.NewError(gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG, "x")), "mysql_rejected", Terminal},
		{"query timeout", inStage(stageBinlog, fmt.Errorf("query: %w after 30s", mysql.ErrQueryTimeout)), "timeout", Transient},
		{"deadline", inStage(stageKafka, context.DeadlineExceeded), "timeout", Transient},
		{"mysql dial refused", inStage(stageBinlog, fmt.Errorf("connect: %w", netErr)), "mysql", Transient},

		// Registry and encoding.
		{"incompatible schema", registry(409), "incompatible_schema", Terminal},
		{"invalid schema", registry(422), "schema", Terminal},
		{"registry 503", registry(503), "registry", Transient},
		{"registry 429", registry(429), "registry", Transient},
		{"registry 401", registry(401), "registry_auth", Terminal},
		{"registry 404", registry(404), "registry_rejected", Terminal},
		{"registry unreachable", inStage(stageEncode, fmt.Errorf("x: %w: %w", serde.ErrRegistryUnavailable, netErr)), "registry", Transient},
		{"bad value", inStage(stageEncode, &serde.ValueError{Topic: "t", Table: "d.t", Column: "c"}), "encode", Terminal},
		{"not framed", fmt.Errorf("x: %w", &serde.FramingError{Len: 2}), "encode", Terminal},
		{"malformed avro", fmt.Errorf("x: %w", serde.ErrMalformed), "encode", Terminal},

		// Kafka.
		{"fenced", inStage(stageKafka, router.ErrFenced), "fenced", Terminal},
		{"producer fenced by the broker", produce(kerr.ProducerFenced), "fenced", Terminal},
		{"keyless record", inStage(stageKafka, fmt.Errorf("x: %w", router.ErrKeylessCompacted)), "schema", Terminal},
		{"invalid router config", fmt.Errorf("x: %w", router.ErrInvalidConfig), "config", Terminal},
		{"positions topic not compacted", inStage(stageKafka, fmt.Errorf("x: %w", router.ErrPositionsNotCompacted)), "config", Terminal},
		{"invalid position", inStage(stageKafka, fmt.Errorf("x: %w", router.ErrInvalidPosition)), "internal", Terminal},
		{"unreachable brokers", inStage(stageKafka, &router.UnreachableError{Brokers: []string{"b:9092"}, Err: netErr}), "kafka_unreachable", Transient},
		{"record too large", produce(kerr.MessageTooLarge), "record_too_large", Terminal},
		{"topic authorization", produce(kerr.TopicAuthorizationFailed), "kafka_rejected", Bounded},
		{"policy violation at create", inStage(stageKafka, fmt.Errorf("create topic t: %w", kerr.PolicyViolation)), "kafka_rejected", Bounded},
		{"sasl failure", inStage(stageKafka, fmt.Errorf("connect: %w", kerr.SaslAuthenticationFailed)), "kafka_auth", Terminal},
		{"invalid topic config", inStage(stageKafka, fmt.Errorf("create: %w", kerr.InvalidConfig)), "config", Terminal},
		{"unknown topic", produce(kerr.UnknownTopicOrPartition), "kafka", Transient},
		{"not enough replicas", produce(kerr.NotEnoughReplicas), "kafka", Transient},
		{"record timeout", produce(kgo.ErrRecordTimeout), "kafka", Transient},
		{"connection reset before the first answer", produce(&kgo.ErrFirstReadEOF{}), "kafka", Transient},
		{"writer closed", inStage(stageKafka, router.ErrClosed), "kafka", Transient},
		{"kafka network error", inStage(stageKafka, fmt.Errorf("fetch: %w", netErr)), "kafka", Transient},

		// The rest.
		{"never seen before", errors.New("something odd"), "unknown", Bounded},
	}
	for _, tt := range tests {
		got := Classify(tt.err)
		if got.Name != tt.class || got.Policy != tt.policy {
			t.Errorf("%s: Classify(%v) = %s/%s, want %s/%s", tt.name, tt.err, got.Name, got.Policy, tt.class, tt.policy)
		}
		if got.Retryable() != (tt.policy != Terminal) {
			t.Errorf("%s: Retryable disagrees with the policy", tt.name)
		}
		if actionFor(got.Name) == "" && got.Policy != Transient {
			t.Errorf("%s: class %s has no action for operators", tt.name, got.Name)
		}
	}
}

// inStage keeps the innermost stage: an error the encoder got from the
// writer is still the writer's.
func TestInStageKeepsInnermost(t *testing.T) {
	err := inStage(stageEncode, fmt.Errorf("write: %w", inStage(stageKafka, errors.New("x"))))
	var se *stageError
	if !errors.As(err, &se) || se.stage != stageKafka {
		t.Fatalf("stage %+v, want kafka", se)
	}
}
