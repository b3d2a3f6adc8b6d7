package binlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidemark-cdc/tidemark/change"
)

func TestConfigValidate(t *testing.T) {
	_, err := NewReader(Config{Addr: "nohost", ServerID: 0, Flavor: "postgres", HeartbeatPeriod: -time.Second}, nil, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"shard name is empty", `addr "nohost"`, "user is empty", `flavor "postgres"`, "server_id is 0", "heartbeat period -1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not report %q", err, want)
		}
	}
	r, err := NewReader(Config{Shard: "s", Addr: "[::1]:3306", User: "u", Flavor: change.FlavorMySQL, ServerID: 7}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := r.cfg
	if c.HeartbeatPeriod != time.Second || c.ReadTimeout != 30*time.Second || c.CheckpointInterval != 100*time.Millisecond ||
		c.EventBuffer != 128 || c.ReconnectMaxElapsed != 5*time.Minute || c.MinBinlogRetention != 24*time.Hour {
		t.Errorf("defaults %+v", c)
	}
	if _, err := NewReader(Config{Shard: "s", Addr: "h:1", User: "u", Flavor: change.FlavorMySQL, ServerID: 7,
		HeartbeatPeriod: 10 * time.Second, ReadTimeout: 15 * time.Second}, nil, nil); err == nil {
		t.Errorf("a read timeout shorter than two heartbeats accepted")
	}
}

func TestConfigHidesPassword(t *testing.T) {
	c := Config{Shard: "s", Addr: "h:1", User: "u", Password: "hunter2", Flavor: change.FlavorMariaDB, ServerID: 7}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c)
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown: %s", s)
		}
	}
	if !strings.Contains(c.String(), "[redacted]") {
		t.Errorf("String() = %s", c.String())
	}
}

func TestIsSystemDatabase(t *testing.T) {
	for db, want := range map[string]bool{"mysql": true, "MySQL": true, "sys": true, "performance_schema": true,
		"information_schema": true, "app": false, "mysqlx": false, "performance_schema_longer_name": false, "": false} {
		if got := isSystemDatabase([]byte(db)); got != want {
			t.Errorf("isSystemDatabase(%q) = %v", db, got)
		}
	}
}

func TestNewMetricsTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.forShard("s1").reconnects.Inc()
	b.forShard("s1").reconnects.Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "tidemark_binlog_reconnects_total" {
			if v := mf.GetMetric()[0].GetCounter().GetValue(); v != 2 {
				t.Errorf("reconnects %v, want 2 (shared series)", v)
			}
			return
		}
	}
	t.Error("reconnects series not registered")
}
