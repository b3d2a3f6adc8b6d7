package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were taken. Benchmarks on a 2-core
// machine shared with MariaDB, Kafka and the registry only mean something
// next to the load the machine carried, so every scenario also records a
// Load (below).
type Machine struct {
	Cores    int    `json:"cores"`
	MemBytes int64  `json:"mem_bytes"`
	CPUModel string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
}

func readMachine() Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemBytes = statusKB(string(b), "MemTotal:") * 1024
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuSample is the machine-wide jiffy counters of /proc/stat's "cpu" line
// and the CPU time of the stack's own processes, at one moment.
type cpuSample struct {
	at         time.Time
	total      uint64
	idle       uint64 // idle + iowait
	loadavg    string
	stackCPU   map[string]float64 // stack part (shard1, kafka, registry) -> CPU seconds
	stackPIDs  map[string]int
	stackRSSes map[string]int64
}

// Load is the machine's load over one scenario: load averages at its start
// and end, how busy all cores were (from /proc/stat), and how many CPU
// seconds the stack's processes (MariaDB shard, Kafka, registry) used --
// the part of the machine the connector under test did not use itself.
type Load struct {
	LoadavgBefore string             `json:"loadavg_before"`
	LoadavgAfter  string             `json:"loadavg_after"`
	BusyPercent   float64            `json:"busy_percent"` // all cores, 100 = every core busy
	StackCPU      map[string]float64 `json:"stack_cpu_seconds,omitempty"`
}

func sampleCPU(stackDir string) cpuSample {
	s := cpuSample{at: time.Now(), stackCPU: map[string]float64{}, stackPIDs: map[string]int{}}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			s.loadavg = strings.Join(f[:3], " ")
		}
	}
	if f, err := os.Open("/proc/stat"); err == nil {
		sc := bufio.NewScanner(f)
		if sc.Scan() {
			fields := strings.Fields(sc.Text()) // cpu user nice system idle iowait irq softirq steal ...
			for i, v := range fields[1:] {
				n, _ := strconv.ParseUint(v, 10, 64)
				if i >= 8 { // guest time is already counted in user
					break
				}
				s.total += n
				if i == 3 || i == 4 {
					s.idle += n
				}
			}
		}
		f.Close()
	}
	for part, pid := range stackPIDs(stackDir) {
		if st, err := readProcStats(pid); err == nil {
			s.stackCPU[part] = st.CPUSeconds
			s.stackPIDs[part] = pid
		}
	}
	return s
}

func loadBetween(a, b cpuSample) Load {
	l := Load{LoadavgBefore: a.loadavg, LoadavgAfter: b.loadavg, StackCPU: map[string]float64{}}
	if dt := b.total - a.total; b.total > a.total {
		l.BusyPercent = round1(100 * float64(dt-(b.idle-a.idle)) / float64(dt))
	}
	for part, cpu := range b.stackCPU {
		if before, ok := a.stackCPU[part]; ok && a.stackPIDs[part] == b.stackPIDs[part] {
			l.StackCPU[part] = round1(cpu - before)
		}
	}
	return l
}

// stackPIDs reads the pid files stack/stack keeps for the parts the bench
// uses (shard1 is the shard every connector reads; gcs, the GCS emulator,
// only the large-record scenario).
func stackPIDs(stackDir string) map[string]int {
	out := map[string]int{}
	for _, part := range []string{"shard1", "kafka", "registry", "gcs"} {
		b, err := os.ReadFile(filepath.Join(stackDir, "run", part+".pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			out[part] = pid
		}
	}
	return out
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

func (m Machine) String() string {
	return fmt.Sprintf("%d cores (%s), %.0f GiB RAM, Linux %s", m.Cores, m.CPUModel, float64(m.MemBytes)/(1<<30), m.Kernel)
}
