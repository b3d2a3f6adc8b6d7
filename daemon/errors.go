package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// This file is the one place that decides what a failure means for a shard:
// its class (the label of tidemark_shard_errors_total and /status) and
// whether the supervisor retries it. The stages only return sentinels and
// typed errors that say what happened (binlog/errors.go, mysql/errors.go,
// router/errors.go, serde/errors.go); the binlog reader's in-place reconnect
// asks this classifier too (binlog.Config.Retryable).

// RetryPolicy is what the supervisor does about a class of failure.
type RetryPolicy uint8

const (
	// Terminal: park the shard in StateFailed. Retrying cannot help (wrong
	// password, purged position, a schema the registry refuses) or would be
	// unsafe; a human fixes the cause and restarts the shard.
	Terminal RetryPolicy = iota
	// Transient: retry with backoff for as long as it takes. The cause heals
	// by itself (a broker restarting, a network blip, a server failing
	// over), and each restart resumes from the last committed position, so
	// waiting loses nothing.
	Transient
	// Bounded: retry with backoff, but give up after maxBoundedAttempts and
	// park the shard. The cause most likely needs a human (an ACL to grant,
	// an error never seen before); a few retries cover the case where one
	// is already acting, without retrying forever.
	Bounded
)

func (p RetryPolicy) String() string {
	switch p {
	case Transient:
		return "transient"
	case Bounded:
		return "bounded"
	}
	return "terminal"
}

// Class is the classification of one failure.
type Class struct {
	Name   string
	Policy RetryPolicy
}

// Retryable reports whether the supervisor (or the binlog reader, for its
// own connection) may retry a failure of this class at all.
func (c Class) Retryable() bool { return c.Policy != Terminal }

// Stages of a pipeline, as tagged on its errors.
const (
	stageBinlog = "binlog"
	stageEncode = "encode"
	stageKafka  = "kafka"
	// stageStart is only a hook point (Hooks.Stage), not a stage of errors:
	// the start of a lifetime, before the stored position is loaded.
	stageStart = "start"
)

// stageError tags an error with the pipeline stage that returned it, so that
// a network error is reported as the connection it broke.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func inStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	var se *stageError
	if errors.As(err, &se) {
		return err // keep the innermost stage
	}
	return &stageError{stage: stage, err: err}
}

// ErrNoPrimaryKey stops a shard whose allow-list includes a table without a
// primary key: its records would have null keys, which a compacted topic
// rejects and which could not be merged across shards.
var ErrNoPrimaryKey = errors.New("table has no primary key")

// ErrMissingPosition stops a shard that has no stored position while the
// positions topic holds other shards' positions: a renamed shard or a
// changed positions topic would otherwise silently skip everything that
// happened since its real position.
var ErrMissingPosition = errors.New("no stored position for this shard")

// terminalKafkaErrors are broker answers that the same records or the same
// settings get again after a restart: retrying cannot help.
var terminalKafkaErrors = map[*kerr.Error]string{
	kerr.MessageTooLarge: "record_too_large", kerr.RecordListTooLarge: "record_too_large",
	kerr.InvalidRecord: "kafka_rejected", kerr.CorruptMessage: "kafka_rejected",
	kerr.InvalidTopicException: "config", kerr.InvalidPartitions: "config",
	kerr.InvalidReplicationFactor: "config", kerr.InvalidReplicaAssignment: "config",
	kerr.InvalidConfig: "config", kerr.UnsupportedCompressionType: "config",
	kerr.UnsupportedForMessageFormat: "config", kerr.InvalidRequiredAcks: "config",
	kerr.SaslAuthenticationFailed: "kafka_auth", kerr.UnsupportedSaslMechanism: "kafka_auth",
	kerr.IllegalSaslState: "kafka_auth",
	kerr.ProducerFenced:   "fenced", kerr.TransactionalIDAuthorizationFailed: "kafka_auth",
}

// operatorKafkaErrors are broker answers an administrator can resolve while
// the daemon runs (granting an ACL, relaxing a policy): retried, bounded.
var operatorKafkaErrors = map[*kerr.Error]bool{
	kerr.TopicAuthorizationFailed: true, kerr.ClusterAuthorizationFailed: true,
	kerr.GroupAuthorizationFailed: true, kerr.PolicyViolation: true,
}

// Classify decides the class of a pipeline failure. Cases are checked in
// order; the first match wins, so that, say, an access-denied server error
// inside a binlog connection error is access_denied, not a connection
// problem.
func Classify(err error) Class {
	var (
		pe          *change.PanicError
		unsupported *schema.UnsupportedTypeError
		prereq      *binlog.PrerequisiteError
		unreachable *router.UnreachableError
		regErr      *serde.RegistryError
		ke          *kerr.Error
		conn        *binlog.ConnectionError
		netErr      net.Error
		se          *stageError
		firstEOF    *kgo.ErrFirstReadEOF
	)
	switch {
	case err == nil:
		return Class{"none", Terminal}
	case errors.As(err, &pe):
		return Class{"internal", Terminal}
	case tlsSetupFailure(err):
		// A certificate that does not verify, a server refusing our TLS
		// parameters, a TLS client on a plaintext server: the same settings
		// fail again, for the shard, Kafka or the registry alike.
		return Class{"tls", Terminal}

	// The source server.
	case errors.Is(err, mysql.ErrAccessDenied):
		return Class{"access_denied", Terminal}
	case errors.Is(err, binlog.ErrHostBehind):
		// A replica that has not yet logged the position: waited for
		// (or, with other hosts, the next one tried), never skipped.
		return Class{"host_behind", Transient}
	case errors.Is(err, binlog.ErrPositionNotPortable):
		return Class{"position_not_portable", Terminal}
	case errors.Is(err, mysql.ErrPositionLost), errors.Is(err, binlog.ErrHistoryDiverged):
		return Class{"position_lost", Terminal}
	case errors.Is(err, ErrMissingPosition):
		return Class{"missing_position", Terminal}
	case errors.As(err, &prereq), errors.Is(err, binlog.ErrServerSetting):
		return Class{"prerequisites", Terminal}
	case errors.Is(err, binlog.ErrServerIDConflict):
		return Class{"server_id_conflict", Terminal}
	case errors.Is(err, binlog.ErrXARollback):
		return Class{"xa_rollback", Terminal}
	case errors.Is(err, binlog.ErrIncident):
		return Class{"incident", Terminal}
	case errors.Is(err, binlog.ErrInvalidPosition), errors.Is(err, router.ErrCorruptPosition):
		return Class{"corrupt_position", Terminal}
	case errors.Is(err, mysql.ErrUndecodable):
		return Class{"decode", Terminal}
	case errors.As(err, &unsupported), errors.Is(err, ErrNoPrimaryKey), errors.Is(err, binlog.ErrSchemaUnknown),
		errors.Is(err, router.ErrKeylessCompacted), errors.Is(err, serde.ErrInvalidSchema):
		return Class{"schema", Terminal}

	// The registry and encoding.
	case errors.Is(err, serde.ErrIncompatibleSchema):
		return Class{"incompatible_schema", Terminal}
	case errors.Is(err, serde.ErrBadValue), errors.Is(err, serde.ErrNotFramed), errors.Is(err, serde.ErrMalformed):
		return Class{"encode", Terminal}
	case errors.As(err, &regErr):
		switch {
		case regErr.StatusCode >= 500, regErr.StatusCode == 408, regErr.StatusCode == 429:
			return Class{"registry", Transient}
		case regErr.StatusCode == 401, regErr.StatusCode == 403:
			return Class{"registry_auth", Terminal}
		}
		return Class{"registry_rejected", Terminal}
	case errors.Is(err, serde.ErrRegistryUnavailable):
		return Class{"registry", Transient}

	// Kafka.
	case errors.Is(err, router.ErrFenced):
		return Class{"fenced", Terminal}
	case errors.Is(err, router.ErrTransactionTimeout):
		return Class{"kafka_transaction_timeout", Bounded}
	case errors.Is(err, router.ErrInvalidConfig), errors.Is(err, router.ErrPositionsNotCompacted):
		return Class{"config", Terminal}
	case errors.Is(err, router.ErrInvalidPosition), errors.Is(err, binlog.ErrSinkFailed):
		return Class{"internal", Terminal}
	case errors.As(err, &unreachable):
		return Class{"kafka_unreachable", Transient}
	case errors.As(err, &ke):
		if name, ok := terminalKafkaErrors[ke]; ok {
			return Class{name, Terminal}
		}
		if operatorKafkaErrors[ke] {
			return Class{"kafka_rejected", Bounded}
		}
		return Class{"kafka", Transient} // leadership changes, timeouts, unknown topic (recreated on restart)
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries), errors.Is(err, router.ErrClosed):
		return Class{"kafka", Transient}
	case errors.As(err, &firstEOF):
		// A broker connection closed before its first answer: what a
		// plaintext client sees from a TLS listener, but also every
		// connection reset while a broker restarts or the network drops
		// them (the fault tests' toxiproxy reset_peer). A bounded retry
		// would park the shard for good after a long enough outage; the
		// message still asks about TLS in /status if it never heals.
		return Class{"kafka", Transient}

	// Connections and time.
	case errors.Is(err, mysql.ErrQueryTimeout), errors.Is(err, context.DeadlineExceeded):
		return Class{"timeout", Transient}
	case errors.Is(err, mysql.ErrConnectionLost):
		// A catalog or snapshot query's connection broke (a shard's
		// MariaDB restarting): it reconnects on the next statement.
		return Class{"mysql", Transient}
	case errors.As(err, &conn):
		// Server errors outside the unrecoverable allow-list (too many
		// connections, shutdown in progress, connection killed) and network
		// errors: the reader resumes exactly after reconnecting.
		if code, ok := mysql.ServerErrorCode(err); ok {
			if _, bad := mysql.UnrecoverableCodes[code]; bad {
				return Class{"mysql_rejected", Terminal}
			}
		}
		return Class{"mysql", Transient}
	}
	if code, ok := mysql.ServerErrorCode(err); ok {
		if _, bad := mysql.UnrecoverableCodes[code]; bad {
			return Class{"mysql_rejected", Terminal}
		}
		return Class{"mysql", Transient}
	}
	if errors.As(err, &netErr) && errors.As(err, &se) {
		switch se.stage {
		case stageBinlog:
			return Class{"mysql", Transient}
		case stageKafka:
			return Class{"kafka", Transient}
		case stageEncode:
			return Class{"registry", Transient}
		}
	}
	if errors.As(err, &netErr) {
		return Class{"network", Transient}
	}
	// Never seen before: retry a few times (a restart resumes from the last
	// committed position, so it loses nothing), then ask for a human.
	return Class{"unknown", Bounded}
}

// Retryable is Classify's answer for the binlog reader's in-place reconnect.
func Retryable(err error) bool { return Classify(err).Retryable() }

// noPrimaryKeyError names the table.
func noPrimaryKeyError(shard, database, table string) error {
	return fmt.Errorf("shard %s table %s.%s: %w (nor a UNIQUE index over NOT NULL columns to key it by): add one, or exclude the table from the shard's tables allow-list",
		shard, database, table, ErrNoPrimaryKey)
}
