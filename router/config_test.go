package router

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const secret = "hunter2-s3cr3t"

func validConfig() Config {
	return Config{Brokers: []string{"127.0.0.1:9092"}}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig().withDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PositionsTopic != DefaultPositionsTopic || c.Compression != "lz4" || c.Linger != DefaultLinger ||
		c.MaxInFlightBytes != DefaultMaxInFlightBytes || c.BatchMaxBytes != DefaultBatchMaxBytes ||
		c.CommitInterval != DefaultCommitInterval || c.PositionsPartitions != 1 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // every substring must appear: all problems are reported at once
	}{
		{"no brokers", func(c *Config) { c.Brokers = nil }, []string{"brokers: none"}},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka"} }, []string{`"kafka" is not host:port`}},
		{"negative partitions", func(c *Config) { c.Partitions = -1 }, []string{"partitions: -1"}},
		{"cleanup.policy without compact", func(c *Config) { c.TopicConfig = map[string]string{"cleanup.policy": "delete"} }, []string{"must be compacted"}},
		{"bad positions topic", func(c *Config) { c.PositionsTopic = "a/b" }, []string{"positions topic"}},
		{"tiny memory bound", func(c *Config) { c.MaxInFlightBytes = 1000 }, []string{"max in-flight bytes"}},
		{"unknown compression", func(c *Config) { c.Compression = "brotli" }, []string{"compression"}},
		{"several at once", func(c *Config) {
			c.Brokers = nil
			c.Compression = "brotli"
			c.BatchMaxBytes = 10
		}, []string{"brokers", "compression", "batch max bytes"}},
		{"sasl", func(c *Config) { c.SASL = &SASL{Mechanism: "GSSAPI", Password: secret} }, []string{"mechanism", "user is empty"}},
		{"sasl without password", func(c *Config) { c.SASL = &SASL{Mechanism: "PLAIN", User: "u"} }, []string{"password is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v: want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error leaks the password: %v", err)
			}
			if _, err := NewWriter(c, "s1", nil, nil); err == nil {
				t.Error("NewWriter accepted the invalid config")
			}
		})
	}
	c := validConfig()
	c.SASL = &SASL{Mechanism: "scram-sha-512", User: "u", Password: secret}
	if err := c.Validate(); err != nil {
		t.Errorf("lower-case mechanism: %v", err)
	}
}

func TestSecretsAreNeverPrinted(t *testing.T) {
	c := validConfig()
	c.SASL = &SASL{Mechanism: "SCRAM-SHA-512", User: "tidemark", Password: secret}
	s := *c.SASL
	var out []string
	for _, v := range []any{c, &c, s, &s} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "cfg", c, "sasl", s, "sasl_ptr", &s)
	}
	out = append(out, buf.String())
	for _, o := range out {
		if strings.Contains(o, secret) {
			t.Fatalf("password printed: %s", o)
		}
	}
	if !strings.Contains(fmt.Sprint(c), "SCRAM-SHA-512 user=tidemark") {
		t.Errorf("String() lost useful detail: %s", c)
	}
}
