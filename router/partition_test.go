package router

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Vectors from Apache Kafka's UtilsTest.testMurmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
var kafkaMurmur2Vectors = []struct {
	key  string
	want int32
}{
	{"21", -973932308},
	{"foobar", -790332482},
	{"a-little-bit-long-string", -985981536},
	{"a-little-bit-longer-string", -1486304829},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
	{"abc", 479470107},
}

// Vectors from librdkafka's unittest_murmur2 (src/rdmurmur2.c), which its
// authors generated with the Java client; they cover every tail length and
// the empty key.
var librdkafkaMurmur2Vectors = []struct {
	key  string
	want uint32
}{
	{"kafka", 0xd067cf64},
	{"giberish123456789", 0x8f552b0c},
	{"1234", 0x9fc97b14},
	{"234", 0xe7c009ca},
	{"34", 0x873930da},
	{"4", 0x5a4b5ca1},
	{"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},
	{"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},
	{"eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4e09e},
	{"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},
	{"", 0x106e08d9},
}

func TestMurmur2KafkaVectors(t *testing.T) {
	for _, v := range kafkaMurmur2Vectors {
		if got := Murmur2([]byte(v.key)); got != v.want {
			t.Errorf("Murmur2(%q) = %d, want %d (Kafka UtilsTest)", v.key, got, v.want)
		}
	}
	for _, v := range librdkafkaMurmur2Vectors {
		if got := uint32(Murmur2([]byte(v.key))); got != v.want {
			t.Errorf("Murmur2(%q) = %#x, want %#x (librdkafka)", v.key, got, v.want)
		}
	}
}

// toPositive clears the sign bit; it is not abs (which would give other
// partitions for negative hashes: "21" hashes to -973932308, abs % 7 = 6).
func TestPartitionForIsToPositiveModulo(t *testing.T) {
	tests := []struct {
		key        string
		partitions int32
		want       int32
	}{
		{"21", 1, 0},
		{"21", 7, 3},
		{"21", 100, 40},
		{"foobar", 12, 6},
		{"foobar", 100, 66},
		{"abc", 7, 4},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 3, 2},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 100, 77},
		{"abc", 0, -1},
		{"abc", -3, -1},
	}
	for _, tt := range tests {
		if got := PartitionFor([]byte(tt.key), tt.partitions); got != tt.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tt.key, tt.partitions, got, tt.want)
		}
	}
}

// franz-go's own Kafka-compatible partitioner is an independent
// implementation of the Java one: ours must agree with it everywhere.
func TestPartitionForMatchesFranzGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := range 20000 {
		key := make([]byte, rng.IntN(80))
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		n := 1 + rng.IntN(64)
		want := tp.Partition(&kgo.Record{Key: key}, n)
		if got := PartitionFor(key, int32(n)); int(got) != want {
			t.Fatalf("case %d: PartitionFor(%x, %d) = %d, franz-go says %d", i, key, n, got, want)
		}
	}
}

func FuzzPartitionFor(f *testing.F) {
	for _, v := range kafkaMurmur2Vectors {
		f.Add([]byte(v.key), uint8(12))
	}
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	f.Fuzz(func(t *testing.T, key []byte, n uint8) {
		if n == 0 || key == nil {
			return
		}
		want := tp.Partition(&kgo.Record{Key: key}, int(n))
		if got := PartitionFor(key, int32(n)); int(got) != want {
			t.Fatalf("PartitionFor(%x, %d) = %d, franz-go says %d", key, n, got, want)
		}
	})
}

func TestPartitionRecord(t *testing.T) {
	if got := partitionRecord(&kgo.Record{Key: nil}, 12); got != keylessPartition {
		t.Errorf("keyless record: partition %d, want %d", got, keylessPartition)
	}
	// An empty key is a key (Java hashes it too), unlike a nil one.
	if got, want := partitionRecord(&kgo.Record{Key: []byte{}}, 12), int(PartitionFor(nil, 12)); got != want {
		t.Errorf("empty key: partition %d, want %d", got, want)
	}
	if got, want := partitionRecord(&kgo.Record{Key: []byte("foobar")}, 12), 6; got != want {
		t.Errorf("foobar: partition %d, want %d", got, want)
	}
}

func BenchmarkMurmur2(b *testing.B) {
	for _, n := range []int{8, 32, 128} {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i * 7)
		}
		b.Run(fmt.Sprintf("%dB", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				Murmur2(key)
			}
		})
	}
}

func BenchmarkPartitionRecord(b *testing.B) {
	r := &kgo.Record{Key: []byte("\x00\x00\x00\x00\x01\x02\xa4\x9c\x01customer-000042")}
	b.ReportAllocs()
	for b.Loop() {
		partitionRecord(r, 12)
	}
}
