package router

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2):
// 32-bit MurmurHash2 with seed 0x9747b28c, little-endian words, returned as
// Java's signed int. Java and Go producers agree on partitions only if they
// agree on this function bit for bit; the tests pin it to Kafka's vectors.
func Murmur2(key []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(key)
	h := uint32(seed) ^ uint32(n)
	for len(key) >= 4 {
		k := binary.LittleEndian.Uint32(key)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		key = key[4:]
	}
	switch len(key) {
	case 3:
		h ^= uint32(key[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(key[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(key[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// PartitionFor is the partition Kafka's default partitioner gives a keyed
// record among n partitions: toPositive(murmur2(key)) % n, where toPositive
// clears the sign bit (it is not abs). n must be positive; PartitionFor
// returns -1 otherwise.
func PartitionFor(key []byte, partitions int32) int32 {
	if partitions <= 0 {
		return -1
	}
	return (Murmur2(key) & 0x7fffffff) % partitions
}

// keylessPartition is where records without a key go. Partition 0, always:
// it keeps a keyless table's changes in one totally ordered log (all a
// consumer has to go by without a key), where Java's sticky partitioner
// would scatter them. Note that compacted topics refuse keyless records
// (see ErrKeylessCompacted), so this only applies to topics an operator
// created without compaction.
const keylessPartition = 0

// partitioner is the kgo partitioner of every Writer: PartitionFor for keyed
// records, keylessPartition otherwise. It requires consistency, so a record
// waits for its partition's leader instead of moving to another partition
// (which would break per-key order). kgo passes the topic's partition count
// from its metadata cache.
var partitioner = kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
	return partitionRecord
})

func partitionRecord(r *kgo.Record, n int) int {
	if r.Key == nil {
		return keylessPartition
	}
	return int(PartitionFor(r.Key, int32(n)))
}
