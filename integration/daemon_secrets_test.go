package integration

// No output of Tidemark shows a secret: secrets are planted in every place a
// configuration can carry one, the built binary is run through its normal
// and its failure paths, and everything it prints or serves is searched for
// them.

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// plantedSecrets are values that no output may contain, and the variables
// holding them.
type plantedSecrets struct {
	mysqlUser, mysql   string // the shard user's password (IT_SEC_MYSQL_PW)
	mysqlWrong         string // a wrong one (IT_SEC_MYSQL_WRONG)
	saslUser, sasl     string // SCRAM-SHA-512 on the SASL_SSL listener (IT_SEC_SASL_PW)
	saslWrong          string // IT_SEC_SASL_WRONG
	registryUser       string
	registry           string // basic-auth password (IT_SEC_REGISTRY_PW)
	registryURLUser    string
	registryURLSecret  string // the password inside registry.url's userinfo
	token, tokenWrong  string // admin bearer token (IT_SEC_ADMIN_TOKEN) and a wrong one
	registryBasicAuths []string
}

func plantSecrets(t *testing.T, s *Stack, dbs map[int]*sqlDB) *plantedSecrets {
	t.Helper()
	p := &plantedSecrets{
		mysqlUser: uniqueName("sec"), mysql: uniqueName("MysqlSecret"), mysqlWrong: uniqueName("MysqlWrong"),
		saslUser: uniqueName("secscram"), sasl: uniqueName("SaslSecret"), saslWrong: uniqueName("SaslWrong"),
		registryUser: "regbasic", registry: uniqueName("RegistrySecret"),
		registryURLUser: "urluser", registryURLSecret: uniqueName("UrlSecret"),
		token: uniqueName("AdminToken0123456789"), tokenWrong: uniqueName("WrongToken0123456789"),
	}
	for _, db := range dbs {
		exec(t, db.DB, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", p.mysqlUser, p.mysql),
			fmt.Sprintf("GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '%s'@'%%'", p.mysqlUser))
		t.Cleanup(func() { _, _ = db.Exec(fmt.Sprintf("DROP USER '%s'@'%%'", p.mysqlUser)) })
	}
	createSCRAMUser(t, s, p.saslUser, p.sasl)
	for k, v := range map[string]string{
		"IT_SEC_MYSQL_PW": p.mysql, "IT_SEC_MYSQL_WRONG": p.mysqlWrong, "IT_SEC_SASL_PW": p.sasl,
		"IT_SEC_SASL_WRONG": p.saslWrong, "IT_SEC_REGISTRY_PW": p.registry, "IT_SEC_ADMIN_TOKEN": p.token,
	} {
		t.Setenv(k, v)
	}
	// What an HTTP log would show of basic auth.
	for _, up := range []string{p.registryUser + ":" + p.registry, p.registryURLUser + ":" + p.registryURLSecret} {
		p.registryBasicAuths = append(p.registryBasicAuths, base64.StdEncoding.EncodeToString([]byte(up)))
	}
	return p
}

func (p *plantedSecrets) all() []string {
	return append([]string{p.mysql, p.mysqlWrong, p.sasl, p.saslWrong, p.registry, p.registryURLSecret, p.token, p.tokenWrong},
		p.registryBasicAuths...)
}

// check fails the test if out contains a planted secret.
func (p *plantedSecrets) check(t *testing.T, where, out string) {
	t.Helper()
	for _, s := range p.all() {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the planted secret %q:\n%s", where, s, out)
		}
	}
}

// registryWithUserinfo puts credentials into a registry URL.
func registryWithUserinfo(url, user, password string) string {
	scheme, rest, _ := strings.Cut(url, "://")
	return scheme + "://" + user + ":" + password + "@" + rest
}

// secretsConfig is e's configuration with every secret planted: the shard
// user's password, Kafka over TLS + SCRAM, registry basic auth and a URL
// with userinfo, an admin token.
func (p *plantedSecrets) config(e *e2eSetup, shards []int, registryURL, saslEnv string) string {
	cfg := e.config(shards, "")
	cfg = strings.Replace(cfg, "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  token_env: IT_SEC_ADMIN_TOKEN\n", 1)
	cfg = strings.Replace(cfg, "brokers: ["+strings.Join(e.s.Brokers, ", ")+"]", "brokers: ["+strings.Join(e.s.SASLBrokers, ", ")+"]", 1)
	cfg = strings.Replace(cfg, "  linger: 2ms\n", fmt.Sprintf(`  linger: 2ms
  tls:
    enabled: true
    ca_file: %s
  sasl:
    mechanism: SCRAM-SHA-512
    username: %s
    password_env: %s
`, e.s.KafkaCAFile, p.saslUser, saslEnv), 1)
	cfg = strings.Replace(cfg, "  url: "+e.s.RegistryURL+"\n",
		"  url: "+registryWithUserinfo(registryURL, p.registryURLUser, p.registryURLSecret)+"\n"+
			"  username: "+p.registryUser+"\n  password_env: IT_SEC_REGISTRY_PW\n", 1)
	cfg = strings.Replace(cfg, "password_env: TIDEMARK_MYSQL_PASSWORD", "password_env: IT_SEC_MYSQL_PW", 1)
	// Scenarios add shards to a positions topic that already holds others'.
	cfg = strings.Replace(cfg, "  heartbeat_period: 500ms\n", "  heartbeat_period: 500ms\n  accept_missing_position: true\n", 1)
	return strings.Replace(cfg, "  user: "+e.s.User+"\n", "  user: "+p.mysqlUser+"\n", 1)
}

// adminAddrOf finds the admin address in a text or JSON log.
func adminAddrOf(log string) string {
	if a := adminAddrFromLog(log); a != "" {
		return a
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Msg   string `json:"msg"`
			Admin string `json:"admin"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "tidemark started" {
			return line.Admin
		}
	}
	return ""
}

// adminCalls makes the requests an operator (or an attacker) makes and
// returns everything the endpoints answered.
func (p *plantedSecrets) adminCalls(t *testing.T, base string) string {
	t.Helper()
	var all strings.Builder
	for _, path := range []string{"/healthz", "/readyz", "/status", "/metrics"} {
		code, body, err := httpGet(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		fmt.Fprintf(&all, "GET %s: %d\n%s\n", path, code, body)
	}
	for _, auth := range []string{"", "Bearer " + p.tokenWrong, "Bearer " + p.token} {
		req, _ := http.NewRequest(http.MethodPost, base+"/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		want := http.StatusUnauthorized
		if auth == "Bearer "+p.token {
			want = http.StatusMethodNotAllowed
		}
		if resp.StatusCode != want {
			t.Errorf("POST /status (authorization %t): status %d, want %d", auth != "", resp.StatusCode, want)
		}
		fmt.Fprintf(&all, "POST /status: %d\n%s\n", resp.StatusCode, b.String())
	}
	return all.String()
}

// shardStates reads /status: shard → state and error class.
func shardStates(base string) (map[string][2]string, error) {
	_, body, err := httpGet(base + "/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Shards []struct {
			Shard, State   string
			LastErrorClass string `json:"last_error_class"`
		} `json:"shards"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	out := map[string][2]string{}
	for _, s := range st.Shards {
		out[s.Shard] = [2]string{s.State, s.LastErrorClass}
	}
	return out, nil
}

// waitShards waits until /status shows every shard in want (state, class).
func waitShards(t *testing.T, p *daemonProcess, want map[string][2]string) string {
	t.Helper()
	var base string
	eventually(t, 2*time.Minute, fmt.Sprintf("shards %v", want), func() error {
		if base == "" {
			if a := adminAddrOf(p.output()); a != "" {
				base = "http://" + a
			} else {
				return fmt.Errorf("no admin address in the log yet:\n%s", p.output())
			}
		}
		got, err := shardStates(base)
		if err != nil {
			return err
		}
		for shard, w := range want {
			if g := got[shard]; g[0] != w[0] || (w[1] != "" && g[1] != w[1]) {
				return fmt.Errorf("%s is %v, want %v", shard, g, w)
			}
		}
		return nil
	})
	return base
}

// stopProcess sends SIGTERM and waits for the exit.
func stopProcess(t *testing.T, p *daemonProcess) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("no exit within a minute of SIGTERM:\n%s", p.output())
	}
}

// unauthorizedRegistry answers 401 to everything, as a registry with basic
// auth does to wrong credentials (the stack's Apicurio runs without auth).
func unauthorizedRegistry(t *testing.T) (string, *atomic.Int32) {
	var withBasicAuth atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); ok {
			withBasicAuth.Add(1)
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":401,"message":"Unauthorized"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/apis/ccompat/v7", &withBasicAuth
}

func TestNoOutputShowsASecret(t *testing.T) {
	s := stackEnv(t)
	if len(s.Shards) < 2 {
		t.Fatal("needs two shards")
	}
	e, dbs := newAccountsE2E(t, s, 0, 1)
	p := plantSecrets(t, s, dbs)
	good := p.config(e, []int{0}, s.RegistryURL, "IT_SEC_SASL_PW")
	goodPath := writeConfig(t, good)

	t.Run("validate", func(t *testing.T) {
		code, out := runCLI(t, time.Minute, "validate", "-c", goodPath)
		if code != 0 || !strings.Contains(out, ": valid") || !strings.Contains(out, "registry http://REDACTED@") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "warning: registry.url: basic auth over http://") {
			t.Errorf("no warning about basic auth over http://:\n%s", out)
		}
		p.check(t, "validate", out)

		plain := strings.Replace(good, "  tls:\n    enabled: true\n    ca_file: "+s.KafkaCAFile+"\n", "", 1)
		plain = strings.Replace(plain, "mechanism: SCRAM-SHA-512", "mechanism: PLAIN", 1)
		code, out = runCLI(t, time.Minute, "validate", "-c", writeConfig(t, plain))
		if code != 0 || !strings.Contains(out, "warning: kafka.sasl.mechanism: PLAIN without kafka.tls") {
			t.Errorf("exit %d, no warning about SASL PLAIN without TLS:\n%s", code, out)
		}
		p.check(t, "validate (PLAIN)", out)

		// Invalid files: a secret pasted into a *_env key, a registry URL
		// with credentials that does not parse.
		bad := strings.Replace(good, "password_env: IT_SEC_REGISTRY_PW", "password_env: '"+p.registry+"'", 1)
		bad = strings.Replace(bad, "@127.0.0.1:", "@127.0.0.1:port", 1)
		code, out = runCLI(t, time.Minute, "validate", "-c", writeConfig(t, bad))
		if code != 2 || !strings.Contains(out, "registry.password_env") || !strings.Contains(out, "registry.url") {
			t.Errorf("exit %d, want 2 naming registry.password_env and registry.url:\n%s", code, out)
		}
		p.check(t, "validate (invalid)", out)
	})

	for i, format := range []string{"text", "json"} {
		insert := func(db *sqlDB, id int) { // rows the failure scenarios write, distinct per format
			exec(t, db.DB, fmt.Sprintf("INSERT INTO %s.accounts (id, email, version, balance) VALUES (%d, 'u@example.com', 1, 1)", db.name, 900000+10*i+id))
		}
		t.Run(format, func(t *testing.T) {
			t.Run("streaming, admin requests, SIGTERM", func(t *testing.T) {
				// At debug level: the libraries' chatter is searched too.
				proc := startProcess(t, goodPath, "--log-format", format, "--log-level", "debug")
				base := waitShards(t, proc, map[string][2]string{"shard1": {"streaming", ""}})
				w := newWorkload(dbs[0].DB, dbs[0].name, 0)
				w.next = int64(i) * 100_000 // fresh ids in the second format's run
				if err := w.run(t.Context(), 30); err != nil {
					t.Fatal(err)
				}
				e.waitFinalState(t, map[int]*sqlDB{0: dbs[0]}, time.Minute)
				p.check(t, "admin endpoints", p.adminCalls(t, base))
				stopProcess(t, proc)
				out := proc.output()
				if proc.err != nil || !strings.Contains(out, "tidemark stopped") {
					t.Errorf("exit %v:\n%s", proc.err, out)
				}
				if !strings.Contains(out, "insecure configuration") || !strings.Contains(out, "registry.url") {
					t.Errorf("no WARN about basic auth over http://:\n%s", out)
				}
				if !strings.Contains(out, "admin request refused") {
					t.Errorf("refused admin requests are not logged:\n%s", out)
				}
				p.check(t, "run log", out)
			})

			t.Run("wrong MySQL password", func(t *testing.T) {
				cfg := p.config(e, []int{0, 1}, s.RegistryURL, "IT_SEC_SASL_PW")
				cfg = strings.Replace(cfg, "  - name: shard1\n", "  - name: shard1\n    password_env: IT_SEC_MYSQL_WRONG\n", 1)
				proc := startProcess(t, writeConfig(t, cfg), "--log-format", format)
				base := waitShards(t, proc, map[string][2]string{"shard1": {"failed", "access_denied"}, "shard2": {"streaming", ""}})
				p.check(t, "admin endpoints", p.adminCalls(t, base))
				stopProcess(t, proc)
				p.check(t, "run log", proc.output())
			})

			t.Run("registry unreachable", func(t *testing.T) {
				unreachable := strings.Replace(s.RegistryURL, hostOf(s.RegistryURL), "127.0.0.1:1", 1)
				proc := startProcess(t, writeConfig(t, p.config(e, []int{0}, unreachable, "IT_SEC_SASL_PW")), "--log-format", format)
				waitShards(t, proc, map[string][2]string{"shard1": {"streaming", ""}})
				insert(dbs[0], 1)
				base := waitShards(t, proc, map[string][2]string{"shard1": {"retrying", "registry"}})
				p.check(t, "admin endpoints", p.adminCalls(t, base))
				stopProcess(t, proc)
				if !strings.Contains(proc.output(), "127.0.0.1:1") {
					t.Errorf("the log does not name the registry:\n%s", proc.output())
				}
				p.check(t, "run log", proc.output())
			})

			t.Run("registry answers 401", func(t *testing.T) {
				url, withAuth := unauthorizedRegistry(t)
				// shard1 may fail before it is seen streaming: it resumes
				// before the row the previous scenario could not publish.
				insert(dbs[0], 2)
				proc := startProcess(t, writeConfig(t, p.config(e, []int{0, 1}, url, "IT_SEC_SASL_PW")), "--log-format", format)
				base := waitShards(t, proc, map[string][2]string{"shard1": {"failed", "registry_auth"}, "shard2": {"streaming", ""}})
				p.check(t, "admin endpoints", p.adminCalls(t, base))
				stopProcess(t, proc)
				if withAuth.Load() == 0 {
					t.Errorf("the registry never saw basic auth")
				}
				if !strings.Contains(proc.output(), "401") {
					t.Errorf("the log does not show the 401:\n%s", proc.output())
				}
				p.check(t, "run log", proc.output())
			})

			t.Run("SASL authentication fails", func(t *testing.T) {
				proc := startProcess(t, writeConfig(t, p.config(e, []int{0}, s.RegistryURL, "IT_SEC_SASL_WRONG")), "--log-format", format)
				select {
				case <-proc.done: // every shard failed: exit 1
				case <-time.After(2 * time.Minute):
					t.Fatalf("still running after a SASL failure:\n%s", proc.output())
				}
				if out := proc.output(); proc.err == nil || !strings.Contains(strings.ToUpper(out), "SASL") {
					t.Errorf("exit %v, want 1 with the SASL failure named:\n%s", proc.err, out)
				}
				p.check(t, "run log", proc.output())
			})
		})
	}

	t.Run("tail", func(t *testing.T) {
		topic := e.topic("accounts")
		code, out := runCLI(t, 2*time.Minute, "tail", topic, "-c", goodPath, "-n", "5")
		if code != 0 || strings.Count(out, `"partition"`) != 5 {
			t.Errorf("tail through TLS + SCRAM: exit %d:\n%s", code, out)
		}
		p.check(t, "tail", out)

		code, out = runCLI(t, 2*time.Minute, "tail", topic, "-c", writeConfig(t, p.config(e, []int{0}, s.RegistryURL, "IT_SEC_SASL_WRONG")))
		if code == 0 || !strings.Contains(strings.ToUpper(out), "SASL") {
			t.Errorf("tail with a wrong SASL password: exit %d:\n%s", code, out)
		}
		p.check(t, "tail (wrong SASL password)", out)

		unreachable := strings.Replace(s.RegistryURL, hostOf(s.RegistryURL), "127.0.0.1:1", 1)
		code, out = runCLI(t, 2*time.Minute, "tail", topic, "-c", writeConfig(t, p.config(e, []int{0}, unreachable, "IT_SEC_SASL_PW")))
		if code == 0 || !strings.Contains(out, "127.0.0.1:1") {
			t.Errorf("tail with the registry unreachable: exit %d:\n%s", code, out)
		}
		p.check(t, "tail (registry unreachable)", out)

		code, out = runCLI(t, time.Minute, "tail", topic, "--brokers", strings.Join(s.Brokers, ","),
			"--registry", "ftp://"+p.registryURLSecret+"@127.0.0.1:1/x")
		if code == 0 {
			t.Errorf("tail with a bad --registry URL: exit 0:\n%s", out)
		}
		p.check(t, "tail (bad --registry)", out)
	})
}
