package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// `tidemark tail -c FILE` connects the way the daemon does: through the
// SASL_SSL listener, verifying the broker against kafka.tls.ca_file and
// logging in with SCRAM-SHA-512, and decodes what the daemon wrote.
func TestTailThroughTLSAndSCRAM(t *testing.T) {
	s := stackEnv(t)
	user, password := uniqueName("tail"), uniqueName("Tail-Pw")
	createSCRAMUser(t, s, user, password)
	t.Setenv("IT_TAIL_SCRAM", password)
	t.Setenv("IT_TAIL_SCRAM_WRONG", "wrong-"+password)

	e, dbs := newAccountsE2E(t, s, 0)
	d := startDaemon(t, e.config([]int{0}, ""))
	d.waitStreaming(t)
	exec(t, dbs[0].DB,
		"INSERT INTO "+dbs[0].name+".accounts (id, email, version, balance) VALUES (7, 'ada@example.com', 1, 12.50)",
		"DELETE FROM "+dbs[0].name+".accounts WHERE id = 7")
	e.waitRecords(t, "accounts", 3)
	inKafka := e.readTopic(t, e.topic("accounts"))

	secure := func(passwordEnv string) string {
		cfg := e.config([]int{0}, "")
		cfg = strings.Replace(cfg, "brokers: ["+strings.Join(s.Brokers, ", ")+"]", "brokers: ["+strings.Join(s.SASLBrokers, ", ")+"]", 1)
		return writeConfig(t, strings.Replace(cfg, "  linger: 2ms\n", fmt.Sprintf(`  linger: 2ms
  tls:
    enabled: true
    ca_file: %s
  sasl:
    mechanism: SCRAM-SHA-512
    username: %s
    password_env: %s
`, s.KafkaCAFile, user, passwordEnv), 1))
	}

	code, out := runCLI(t, 2*time.Minute, "tail", e.topic("accounts"), "-c", secure("IT_TAIL_SCRAM"))
	if code != 0 {
		t.Fatalf("tail exit %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(inKafka) {
		t.Fatalf("tail printed %d lines, the topic holds %d records:\n%s", len(lines), len(inKafka), out)
	}
	for i, line := range lines {
		var l struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
			Record    struct {
				Value *struct {
					Op    string         `json:"op"`
					After map[string]any `json:"after"`
				} `json:"value"` // null: a tombstone
			} `json:"record"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if l.Partition != inKafka[i].Partition || l.Offset != inKafka[i].Offset || (inKafka[i].Value == nil) != (l.Record.Value == nil) {
			t.Errorf("line %d is %d@%d tombstone=%t, Kafka has %d@%d tombstone=%t", i, l.Partition, l.Offset,
				l.Record.Value == nil, inKafka[i].Partition, inKafka[i].Offset, inKafka[i].Value == nil)
		}
		if i == 0 && (l.Record.Value == nil || l.Record.Value.Op != "c" || l.Record.Value.After["email"] != "ada@example.com") {
			t.Errorf("first line %s: want the create of ada@example.com", line)
		}
	}

	code, out = runCLI(t, 2*time.Minute, "tail", e.topic("accounts"), "-c", secure("IT_TAIL_SCRAM_WRONG"))
	if code == 0 || !strings.Contains(strings.ToUpper(out), "SASL") || strings.Contains(out, password) {
		t.Fatalf("tail with a wrong SCRAM password: exit %d, want a SASL error without the password:\n%s", code, out)
	}
}
