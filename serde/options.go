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
}

func (o Options) avro() schema.AvroOptions {
	return schema.AvroOptions{BigIntUnsignedLong: o.BigIntUnsignedLong, KeyShardField: o.KeyShardField}
}

// DecoderOptions are the decoder's choices. The zero value is the default.
type DecoderOptions struct {
	// NoCopy lets bytes values (and fixed) in a decoded Record alias the key
	// and value slices passed to Decode instead of copying them. Faster for
	// large blobs; the caller must then not modify those slices while it uses
	// the Record. Strings are always copied.
	NoCopy bool
}
