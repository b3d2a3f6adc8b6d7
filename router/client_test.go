package router

import (
	"crypto/tls"
	"log/slog"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// ClientOptions carries every connection setting of a Config into the
// franz-go client (read back with OptValue, franz-go's own accessor).
func TestClientOptionsCarryTLSAndSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "scram-sha-512"} {
		cfg := Config{Brokers: []string{"b1:9092", "b2:9092"}, TLS: &tls.Config{ServerName: ""},
			SASL: &SASL{Mechanism: mech, User: "u", Password: "p"}}
		cl, err := kgo.NewClient(ClientOptions(cfg, slog.Default())...)
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.OptValue(kgo.SeedBrokers).([]string); !slices.Equal(got, cfg.Brokers) {
			t.Errorf("seed brokers %v", got)
		}
		if got := cl.OptValue(kgo.ClientID); got != DefaultClientID {
			t.Errorf("client id %v, want the default", got)
		}
		if got, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config); got == nil || got == cfg.TLS {
			t.Errorf("TLS config %v: want a clone of the given one", got)
		}
		mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
		if len(mechs) != 1 || mechs[0].Name() != map[string]string{"PLAIN": "PLAIN", "SCRAM-SHA-256": "SCRAM-SHA-256", "scram-sha-512": "SCRAM-SHA-512"}[mech] {
			t.Errorf("%s: SASL mechanisms %v", mech, mechs)
		}
		cl.Close()
	}
	cl, err := kgo.NewClient(ClientOptions(Config{Brokers: []string{"b:1"}, ClientID: "tail"}, slog.Default())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if cl.OptValue(kgo.DialTLSConfig).(*tls.Config) != nil || len(cl.OptValue(kgo.SASL).([]sasl.Mechanism)) != 0 || cl.OptValue(kgo.ClientID) != "tail" {
		t.Errorf("plaintext config: TLS %v SASL %v id %v", cl.OptValue(kgo.DialTLSConfig), cl.OptValue(kgo.SASL), cl.OptValue(kgo.ClientID))
	}
}
