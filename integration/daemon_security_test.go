package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// The daemon reaches Kafka through TLS (verifying the broker against a CA
// file) with SCRAM-SHA-512, on the stack's SASL_SSL listener; a wrong SCRAM
// password is a terminal error that names the cause and never the password.
func TestDaemonKafkaTLSAndSCRAM(t *testing.T) {
	s := stackEnv(t)
	user, password := uniqueName("scram"), uniqueName("Scram-Pw")
	createSCRAMUser(t, s, user, password)

	secure := func(passwordEnv string) string {
		return fmt.Sprintf(`  tls:
    enabled: true
    ca_file: %s
  sasl:
    mechanism: SCRAM-SHA-512
    username: %s
    password_env: %s
`, s.KafkaCAFile, user, passwordEnv)
	}
	withSecureKafka := func(cfg, passwordEnv string) string {
		cfg = strings.Replace(cfg, "brokers: ["+strings.Join(s.Brokers, ", ")+"]", "brokers: ["+strings.Join(s.SASLBrokers, ", ")+"]", 1)
		return strings.Replace(cfg, "  linger: 2ms\n", "  linger: 2ms\n"+secure(passwordEnv), 1)
	}

	t.Run("streams through TLS and SCRAM", func(t *testing.T) {
		e, dbs := newAccountsE2E(t, s, 0)
		t.Setenv("IT_SCRAM_PASSWORD", password)
		d := startDaemon(t, withSecureKafka(e.config([]int{0}, ""), "IT_SCRAM_PASSWORD"))
		d.waitStreaming(t)
		w := newWorkload(dbs[0].DB, dbs[0].name, 0)
		if err := w.run(context.Background(), 50); err != nil {
			t.Fatal(err)
		}
		recs := e.waitFinalState(t, dbs, time.Minute)
		if err := checkOrderAndAffinity(recs, 3, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a wrong SCRAM password is terminal and not shown", func(t *testing.T) {
		e := newE2E(t, s)
		t.Setenv("IT_SCRAM_WRONG", "wrong-"+password)
		d := startDaemon(t, withSecureKafka(e.config([]int{0}, ""), "IT_SCRAM_WRONG"))
		var st daemon.ShardStatus
		eventually(t, time.Minute, "shard failed on authentication", func() error {
			st = d.d.Status()[0]
			if st.State != daemon.StateFailed {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
		if !strings.Contains(strings.ToUpper(st.LastError), "SASL") || strings.Contains(st.LastError, password) {
			t.Fatalf("last error %q: want it to name the SASL failure and not the password", st.LastError)
		}
	})
}

// createSCRAMUser creates a SCRAM-SHA-512 user through the admin API (on the
// plaintext listener) and deletes it at cleanup.
func createSCRAMUser(t *testing.T, s *Stack, user, password string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 8192, Password: password}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("create SCRAM user: %v", err)
	}
	t.Cleanup(func() {
		_, _ = adm.AlterUserSCRAMs(context.Background(), []kadm.DeleteSCRAM{{User: user, Mechanism: kadm.ScramSha512}}, nil)
	})
	// The broker learns the credential from the metadata log: wait until a
	// login with it works, so the tests never race its propagation.
	pem, err := os.ReadFile(s.KafkaCAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	eventually(t, 30*time.Second, "SCRAM user usable", func() error {
		sc, err := kgo.NewClient(kgo.SeedBrokers(s.SASLBrokers...), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
			kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()))
		if err != nil {
			return err
		}
		defer sc.Close()
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return sc.Ping(pctx)
	})
}
