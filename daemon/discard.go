package daemon

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/router"
)

// discardWriter is the `kafka.sink: discard` mode: records are encoded and
// dropped, so a benchmark measures the ceiling of binlog read + decode +
// encode. Positions still go through the real writer (with no records), to
// a positions topic of their own (discardPositionsSuffix), so that a discard
// run resumes where it stopped and a kafka run never takes its positions.
type discardWriter struct {
	inner     *router.Writer
	discarded prometheus.Counter
}

func (d *discardWriter) Run(ctx context.Context) error { return d.inner.Run(ctx) }
func (d *discardWriter) Close()                        { d.inner.Close() }
func (d *discardWriter) LoadPosition(ctx context.Context) (change.Position, bool, error) {
	return d.inner.LoadPosition(ctx)
}
func (d *discardWriter) EnsureTopic(context.Context, string) error { return nil }

// RecordLimit is Kafka's default batch limit: nothing reaches a broker.
func (d *discardWriter) RecordLimit(context.Context, string) (int, error) {
	return router.DefaultBatchMaxBytes, nil
}
func (d *discardWriter) OtherShards(ctx context.Context) ([]string, error) {
	return d.inner.OtherShards(ctx)
}
func (d *discardWriter) WritePartial(ctx context.Context, recs []router.Record, pos change.Position) error {
	return d.Write(ctx, recs, pos)
}

func (d *discardWriter) Write(ctx context.Context, recs []router.Record, pos change.Position) error {
	d.discarded.Add(float64(len(recs)))
	return d.inner.Write(ctx, nil, pos)
}
