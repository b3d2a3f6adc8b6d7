package daemon

import (
	"fmt"
	"os"

	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/serde"
)

// The configuration's connection settings mapped to the clients' own
// configurations, in one place: the daemon and `tidemark tail` connect
// through these, so TLS, SASL and credentials work the same in both.

// ClientConfig is the connection part of a router.Config (brokers, client
// id, TLS, SASL with its password read from the environment); the daemon
// adds the write settings and appends the shard to the client id.
func (k KafkaConfig) ClientConfig() (router.Config, error) {
	tlsCfg, err := k.TLS.build("") // franz-go verifies each broker against its dial host
	if err != nil {
		return router.Config{}, fmt.Errorf("kafka.tls: %w", err)
	}
	var sasl *router.SASL
	if k.SASL.Mechanism != "" {
		sasl = &router.SASL{Mechanism: k.SASL.Mechanism, User: k.SASL.Username, Password: os.Getenv(k.SASL.PasswordEnv)}
	}
	return router.Config{Brokers: k.Brokers, ClientID: k.ClientID, TLS: tlsCfg, SASL: sasl}, nil
}

// ClientConfig is the registry client's configuration, with the password
// read from the environment.
func (r RegistryConfig) ClientConfig() (serde.RegistryConfig, error) {
	tlsCfg, err := r.TLS.build("") // net/http verifies against the URL's host
	if err != nil {
		return serde.RegistryConfig{}, fmt.Errorf("registry.tls: %w", err)
	}
	return serde.RegistryConfig{
		URL: r.URL, Username: r.Username, Password: os.Getenv(r.PasswordEnv), TLS: tlsCfg, Timeout: r.Timeout,
	}, nil
}
