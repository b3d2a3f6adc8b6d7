package snapshot

import (
	"fmt"
	"strings"
	"time"
)

// Config is one shard's snapshot settings. Zero values take the defaults.
type Config struct {
	ChunkSize int // rows per chunk (default 4096); a request may override it
	Readers   int // chunk readers per table, over disjoint key ranges (default 4)
	// MaxRowsPerSecond caps the rows the shard's chunk readers read per
	// second together (0: unpaced).
	MaxRowsPerSecond int
	// MaxLatencyRise paces the readers by the source's response time
	// (pacer.go): their rows/s (up to MaxRowsPerSecond) follow what keeps
	// the source's response time (80th percentile of a probe) within this fraction above its idle
	// baseline (0.2: +20%). 0: off.
	MaxLatencyRise float64
	// PauseThreadsRunning pauses every chunk reader of the shard while the
	// server's Threads_running exceeds it (0: never); MaxReplicaLag while a
	// replica source lags its primary by more (0: never). Checked every
	// PressureInterval.
	PauseThreadsRunning int
	MaxReplicaLag       time.Duration
	PressureInterval    time.Duration
	// MemoryBytes bounds the chunk rows the shard holds (read, waiting for
	// their high watermark) across its readers (default 64 MiB). A reader's
	// chunk is cut to its share.
	MemoryBytes int64
	// SignalTable, "db.table", switches to signal-table watermarks: instead
	// of reading GTID positions, each chunk inserts a low and a high
	// watermark row there, and is due once the stream shows its high row. For
	// servers where the read-only GTID watermarks cannot work; the shard's
	// user needs INSERT and DELETE on it (CREATE TABLE db.table (id
	// VARCHAR(64) PRIMARY KEY, kind VARCHAR(8) NOT NULL)). Empty: GTID
	// watermarks (read-only).
	SignalTable string
	// MaxWindowKeys bounds the keys a chunk's window records from the
	// stream; a window that overflows is dropped and its chunk read again
	// (default 1M).
	MaxWindowKeys int
}

// Defaults.
const (
	DefaultChunkSize        = 4096
	DefaultReaders          = 4
	DefaultMemoryBytes      = 64 << 20
	DefaultMaxWindowKeys    = 1 << 20
	DefaultPressureInterval = time.Second
)

func (c Config) withDefaults() Config {
	if c.ChunkSize == 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Readers == 0 {
		c.Readers = DefaultReaders
	}
	if c.MemoryBytes == 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if c.MaxWindowKeys == 0 {
		c.MaxWindowKeys = DefaultMaxWindowKeys
	}
	if c.PressureInterval == 0 {
		c.PressureInterval = DefaultPressureInterval
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var problems []string
	if c.ChunkSize < 0 || c.ChunkSize > 1_000_000 {
		problems = append(problems, fmt.Sprintf("chunk size %d: want 1..1000000", c.ChunkSize))
	}
	if c.Readers < 0 || c.Readers > 64 {
		problems = append(problems, fmt.Sprintf("readers %d: want 1..64", c.Readers))
	}
	if c.MaxLatencyRise < 0 || c.MaxLatencyRise > 100 {
		problems = append(problems, fmt.Sprintf("max latency rise %g: want 0 (off) .. 100 (+10000%%)", c.MaxLatencyRise))
	}
	if c.MaxRowsPerSecond < 0 || c.PauseThreadsRunning < 0 || c.MaxReplicaLag < 0 || c.MemoryBytes < 0 || c.MaxWindowKeys < 0 {
		problems = append(problems, "negative limit")
	}
	if c.MemoryBytes > 0 && c.MemoryBytes < 1<<20 {
		problems = append(problems, fmt.Sprintf("memory %d bytes: want at least 1MiB", c.MemoryBytes))
	}
	if len(problems) > 0 {
		return fmt.Errorf("snapshot config: %s", strings.Join(problems, "; "))
	}
	return nil
}
