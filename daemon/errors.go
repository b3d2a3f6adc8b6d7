package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/tidemark-cdc/tidemark/binlog"
	"github.com/tidemark-cdc/tidemark/mysql"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/schema"
	"github.com/tidemark-cdc/tidemark/serde"
)

// errorClass names a failure for metrics and /status and says whether the
// supervisor may restart the pipeline. This file is the one place that
// decides retryable versus terminal for the daemon; each stage decides for
// its own errors (binlog.Retryable, serde.Retryable, router.IsRetryable) and
// the pipeline tags every error with the stage it came from.
type errorClass struct {
	name      string
	retryable bool
}

// Stages of a pipeline, as tagged on its errors.
const (
	stageBinlog = "binlog"
	stageEncode = "encode"
	stageKafka  = "kafka"
)

// stageError tags an error with the pipeline stage that returned it.
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
	return &stageError{stage: stage, err: err}
}

// ErrNoPrimaryKey stops a shard whose allow-list includes a table without a
// primary key: its records would have null keys, which a compacted topic
// rejects and which could not be merged across shards.
var ErrNoPrimaryKey = errors.New("table has no primary key")

func classifyError(err error) errorClass {
	var p *panicError
	if errors.As(err, &p) {
		return errorClass{"internal", false}
	}
	var (
		unsupported *schema.UnsupportedTypeError
		prereq      *binlog.PrerequisiteError
		unreachable *router.UnreachableError
	)
	switch {
	case errors.Is(err, ErrNoPrimaryKey), errors.As(err, &unsupported):
		return errorClass{"schema", false}
	case errors.Is(err, mysql.ErrPositionLost):
		return errorClass{"position_lost", false}
	case errors.Is(err, mysql.ErrAccessDenied):
		return errorClass{"access_denied", false}
	case errors.As(err, &prereq):
		return errorClass{"prerequisites", false}
	case errors.Is(err, serde.ErrIncompatibleSchema):
		return errorClass{"incompatible_schema", false}
	case errors.As(err, &unreachable):
		return errorClass{"kafka_unreachable", true}
	case errors.Is(err, context.DeadlineExceeded):
		return errorClass{"timeout", true}
	}
	var se *stageError
	if errors.As(err, &se) {
		switch se.stage {
		case stageBinlog:
			return errorClass{"binlog", binlog.Retryable(err)}
		case stageEncode:
			return errorClass{"registry", serde.Retryable(err)}
		case stageKafka:
			return errorClass{"kafka", router.IsRetryable(err)}
		}
	}
	// Unknown errors are retried: a restart resumes from the last committed
	// position, so retrying loses nothing, while giving up would stall the shard.
	return errorClass{"unknown", true}
}

// noPrimaryKeyError names the table.
func noPrimaryKeyError(shard, database, table string) error {
	return fmt.Errorf("shard %s table %s.%s: %w: add one, or exclude the table from the shard's tables allow-list",
		shard, database, table, ErrNoPrimaryKey)
}
