package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validConfig = `admin:
  listen: 127.0.0.1:0
kafka:
  brokers: [127.0.0.1:19092]
registry:
  url: http://127.0.0.1:18081/apis/ccompat/v7
topics:
  prefix: tm
  database_rewrites:
    - match: 'shop_shard_\d+'
      replace: shop
defaults:
  user: tidemark
  password_env: TEST_PW
  tables:
    - database: 'shop_*'
      include: ['*']
      exclude: ['tmp_*']
shards:
  - name: shard1
    host: 127.0.0.1
    port: 13306
    server_id: 4001
  - name: shard2
    host: 127.0.0.1
    port: 13307
    server_id: 4002
    flavor: mysql
    tables:
      - database: orders
limits:
  queue_bytes: 32MiB
`

func env(k string) string {
	if k == "TEST_PW" {
		return "secret"
	}
	return ""
}

func TestLoadConfigValidAppliesDefaults(t *testing.T) {
	c, err := parseConfig("t.yaml", []byte(validConfig), env)
	if err != nil {
		t.Fatalf("valid config rejected:\n%v", err)
	}
	s1, s2 := c.Shards[0], c.Shards[1]
	if s1.User != "tidemark" || s1.PasswordEnv != "TEST_PW" || s1.Flavor != "mariadb" || len(s1.Tables) != 1 {
		t.Errorf("shard1 did not inherit defaults: %+v", s1)
	}
	if s2.Flavor != "mysql" || s2.Tables[0].Database != "orders" {
		t.Errorf("shard2 overrides lost: %+v", s2)
	}
	if c.Limits.QueueBytes.Bytes() != 32<<20 || c.Limits.InFlightBytes.Bytes() != 16<<20 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if c.Topics.Partitions != defaultPartitions || c.Kafka.PositionsTopic != defaultPositionsTopic || !*c.Encoding.Tombstones {
		t.Errorf("defaults not applied: topics %+v kafka %+v", c.Topics, c.Kafka)
	}
}

func TestLoadConfigErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, edit, want string
	}{
		{"unknown key", "    server_id: 4002\n", "    server_id: 4002\n    sever_port: 1\n"},
		{"wrong type", "    port: 13306\n", "    port: thirteen\n"},
		{"missing required", "    host: 127.0.0.1\n    port: 13307\n", "    port: 13307\n"},
		{"bad value", "  prefix: tm\n", "  prefix: 'bad prefix'\n"},
		{"unset password env", "  password_env: TEST_PW\n", "  password_env: NOT_SET_ANYWHERE\n"},
		{"bad size", "  queue_bytes: 32MiB\n", "  queue_bytes: lots\n"},
		{"bad store", "limits:\n", "large_records:\n  store: s3://bucket\nlimits:\n"},
		{"secret pasted", "limits:\n", "large_records:\n  store: gs://b\n  secret_env: 'hunter2 hunter2'\nlimits:\n"},
		{"short secret", "limits:\n", "large_records:\n  secret_env: TEST_PW\nlimits:\n"},
		{"gc without store", "limits:\n", "large_records:\n  gc:\n    interval: 6h\nlimits:\n"},
		{"gc interval", "limits:\n", "large_records:\n  gc:\n    interval: six hours\nlimits:\n"},
		{"delivery", "  brokers: [127.0.0.1:19092]\n", "  brokers: [127.0.0.1:19092]\n  delivery: exactly-once\n"},
	}
	wants := map[string]string{
		"unknown key":        `t.yaml:28: shards[1].sever_port: unknown key "sever_port"`,
		"wrong type":         `t.yaml:22: shards[0].port: wrong type: "thirteen"`,
		"missing required":   `t.yaml:24: shards[1].host: required`,
		"bad value":          `t.yaml:8: topics.prefix: "bad prefix"`,
		"unset password env": `t.yaml:14: defaults.password_env: environment variable NOT_SET_ANYWHERE is not set`,
		"bad size":           `t.yaml:32: limits.queue_bytes:`,
		"bad store":          `t.yaml:32: large_records.store: want gs://bucket[/prefix] or file:///absolute/dir, got "s3://bucket"`,
		"secret pasted":      `t.yaml:33: large_records.secret_env: must be the name of an environment variable`,
		"short secret":       `t.yaml:32: large_records.secret_env: the secret in TEST_PW is shorter than 16 characters`,
		"gc without store":   `t.yaml:33: large_records.gc.interval: needs large_records.store`,
		"gc interval":        `t.yaml:33: large_records.gc.interval: wrong type: "six hours"`,
		"delivery":           `t.yaml:5: kafka.delivery: want exactly_once or at_least_once, got "exactly-once"`,
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validConfig, tc.edit, tc.want, 1)
			if src == validConfig {
				t.Fatalf("edit %q not applied", tc.edit)
			}
			_, err := parseConfig("t.yaml", []byte(src), env)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want *ConfigError", err, err)
			}
			if !strings.Contains(err.Error(), wants[tc.name]) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, wants[tc.name])
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret\n") {
				t.Fatalf("error repeats a secret:\n%v", err)
			}
		})
	}
}

func TestLoadConfigReportsEveryProblemAtOnce(t *testing.T) {
	src := strings.Replace(validConfig, "    port: 13306\n", "    port: 70000\n", 1)
	src = strings.Replace(src, "    server_id: 4002\n", "", 1)
	src = strings.Replace(src, "  url: http://", "  url: ftp://", 1)
	_, err := parseConfig("t.yaml", []byte(src), env)
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestLoadConfigEmptyFileNamesRequiredKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(p, env)
	for _, want := range []string{"kafka.brokers: required", "registry.url: required", "shards: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("empty file: error %v lacks %q", err, want)
		}
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	getenv := func(k string) string { return "x" }
	if _, err := LoadConfig("../configs/tidemark.example.yaml", getenv); err != nil {
		t.Fatalf("configs/tidemark.example.yaml:\n%v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte("shards: [{name: a, port: x}]"))
	f.Add([]byte("kafka: {brokers: 3}\n\t- bad"))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := parseConfig("f.yaml", src, env)
		if (c == nil) == (err == nil) {
			t.Fatalf("want exactly one of config and error, got %v and %v", c, err)
		}
	})
}

// Snapshot pacing resolves a shard's own keys over defaults' over the
// built-in defaults, and an explicit 0 turns a pacing off.
func TestSnapshotPacingDefaults(t *testing.T) {
	yaml := strings.Replace(validConfig, "  tables:\n    - database: 'shop_*'", "  snapshot:\n    max_latency_rise_percent: 50\n  tables:\n    - database: 'shop_*'", 1)
	yaml = strings.Replace(yaml, "    flavor: mysql\n", "    flavor: mysql\n    snapshot:\n      max_latency_rise_percent: 0\n      pause_when_threads_running: 0\n", 1)
	c, err := parseConfig("t.yaml", []byte(yaml), env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		shard   int
		cfg     Config
		rise    float64
		threads int
	}{
		{0, Config{Shards: c.Shards}, 0.2, 25},
		{0, *c, 0.5, 25},
		{1, *c, 0, 0},
	} {
		got := tc.cfg.Shards[tc.shard].snapshotConfig(tc.cfg.Defaults.Snapshot)
		if got.MaxLatencyRise != tc.rise || got.PauseThreadsRunning != tc.threads {
			t.Errorf("shard %d: max latency rise %g, pause at threads_running %d; want %g, %d", tc.shard, got.MaxLatencyRise, got.PauseThreadsRunning, tc.rise, tc.threads)
		}
	}
}
