package daemon

import (
	"fmt"
	"net/url"
)

// ConfigWarning is a setting that works but exposes a secret or turns off
// verification. The daemon logs each at WARN when it starts, and `tidemark
// validate` prints them.
type ConfigWarning struct {
	Key string // the YAML path, e.g. kafka.sasl.mechanism
	Msg string
}

func (w ConfigWarning) String() string { return w.Key + ": " + w.Msg }

// Warnings lists the configuration's insecure settings.
func (c *Config) Warnings() []ConfigWarning {
	var out []ConfigWarning
	warn := func(key, format string, args ...any) {
		out = append(out, ConfigWarning{key, fmt.Sprintf(format, args...)})
	}
	if c.Kafka.SASL.Mechanism == "PLAIN" && !c.Kafka.TLS.Enabled {
		warn("kafka.sasl.mechanism", "PLAIN without kafka.tls sends the password in clear text: enable kafka.tls, or use SCRAM-SHA-512")
	}
	if u, err := url.Parse(c.Registry.URL); err == nil && u.Scheme == "http" && (c.Registry.Username != "" || u.User != nil) {
		warn("registry.url", "basic auth over http:// sends the password in clear text: use https://")
	}
	skip := func(key string, t TLSConfig) {
		if t.Enabled && t.InsecureSkipVerify {
			warn(key+".insecure_skip_verify", "the server's certificate is not verified: anyone on the path can impersonate it")
		}
	}
	skip("kafka.tls", c.Kafka.TLS)
	skip("registry.tls", c.Registry.TLS)
	skip("defaults.tls", c.Defaults.TLS)
	for i, s := range c.Shards {
		if s.TLS != nil && !s.tlsInherited {
			skip(fmt.Sprintf("shards[%d].tls", i), *s.TLS)
		}
	}
	return out
}
