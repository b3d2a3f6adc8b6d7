package main

import "testing"

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       float64
		wantErr    bool
	}{
		{"plain", "1234 (java) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 30 0 100 0 0", 3.0, false},
		{"command with spaces and parens", "42 (a (b) c) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 0 0", 0.1, false},
		{"truncated", "42 (x) R 1 2", 0, true},
		{"no command", "garbage", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("cpu = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\tjava\nVmPeak:\t 9000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\n"
	if got := statusKB(status, "VmHWM:"); got != 123456 {
		t.Fatalf("VmHWM = %d", got)
	}
	if got := statusKB(status, "VmSwap:"); got != 0 {
		t.Fatalf("absent key = %d", got)
	}
}

func TestLoadBetween(t *testing.T) {
	a := cpuSample{total: 1000, idle: 600, loadavg: "1.00 1.00 1.00", stackCPU: map[string]float64{"kafka": 10}, stackPIDs: map[string]int{"kafka": 7}}
	b := cpuSample{total: 2000, idle: 850, loadavg: "2.00 1.00 1.00", stackCPU: map[string]float64{"kafka": 12.5, "shard1": 3}, stackPIDs: map[string]int{"kafka": 7, "shard1": 9}}
	l := loadBetween(a, b)
	if l.BusyPercent != 75 {
		t.Errorf("busy = %v, want 75", l.BusyPercent)
	}
	if l.StackCPU["kafka"] != 2.5 {
		t.Errorf("kafka cpu = %v, want 2.5", l.StackCPU["kafka"])
	}
	if _, ok := l.StackCPU["shard1"]; ok {
		t.Errorf("a part absent at the start must not be reported")
	}
}
