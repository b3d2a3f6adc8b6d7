package serde

import (
	"github.com/tidemark-cdc/tidemark/change"
	"github.com/tidemark-cdc/tidemark/schema"
)

// Options are the encoder's choices. The zero value is Tidemark's default:
// exact BIGINT UNSIGNED, tombstones after deletes, primary-key-only keys.
type Options struct {
	// BigIntUnsignedLong encodes BIGINT UNSIGNED as long (Debezium's default
	// bigint.unsigned.handling.mode=long: values above 2^63-1 wrap to
	// negative) instead of the exact bytes decimal(20,0).
	BigIntUnsignedLong bool
	// NoTombstones drops the tombstone (null value) that follows each delete
	// (Debezium tombstones.on.delete=false). Compaction then keeps the delete
	// envelope of every deleted key forever.
	NoTombstones bool
	// KeyShardField, when set, appends a string field of this name to every
	// key (Debezium's ToLogicalTopicRouter key.enforce.uniqueness, e.g.
	// "__dbz__physicalTableIdentifier"), so that equal primary keys of
	// different shards stay different keys in the merged topic. Only needed
	// when primary keys are not unique across shards: it changes every key,
	// hence partitioning and compaction.
	KeyShardField string
	// KeyShardValue computes the KeyShardField value of an event. Nil means
	// Debezium's: the topic the shard's table would have had on its own,
	// "<source.name>.<source.db>.<source.table>" (source.name is the shard,
	// Debezium's topic.prefix). Called per event: keep it cheap.
	KeyShardValue func(src *change.Source) string
	// Version is source.version, e.g. "tidemark-0.3.0". Empty means "tidemark".
	Version string

	// The deviations from Debezium 3.6.1 (docs/wire-format.md): each switch
	// gives Debezium's behaviour instead of Tidemark's exact one.

	// DebeziumYear0000 writes YEAR 0000 as 1900, as Debezium does.
	DebeziumYear0000 bool
	// DebeziumYear0Dates writes DATE and DATETIME values in year 0 (e.g.
	// '0000-05-10') as Debezium does: like a zero date, NULL in a nullable
	// column and the column's default (or the epoch) in a NOT NULL one.
	DebeziumYear0Dates bool
	// DebeziumLatin1 writes the latin1 bytes 0x81, 0x8D, 0x8F, 0x90 and
	// 0x9D as U+FFFD, as Java's windows-1252 decoding does, instead of the
	// U+0081.. that MariaDB converts them to.
	DebeziumLatin1 bool
	// DebeziumStringDefaults writes string and bytes column defaults as
	// Debezium reads them from the DDL, SQL escapes kept ('it''s').
	DebeziumStringDefaults bool
	// ContextHeaders adds Debezium 3.x's __debezium.context.* headers
	// (connectorLogicalName = source.name, taskId "0", connectorName =
	// source.connector, runId = a UUID per Encoder) to every record.
	ContextHeaders bool
}

func (o Options) avro() schema.AvroOptions {
	return schema.AvroOptions{BigIntUnsignedLong: o.BigIntUnsignedLong, KeyShardField: o.KeyShardField,
		DebeziumStringDefaults: o.DebeziumStringDefaults}
}

// DecoderOptions are the decoder's choices. The zero value is the default.
type DecoderOptions struct {
	// NoCopy lets bytes values (and fixed) in a decoded Record alias the key
	// and value slices passed to Decode instead of copying them. Faster for
	// large blobs; the caller must then not modify those slices while it uses
	// the Record. Strings are always copied.
	NoCopy bool
}
