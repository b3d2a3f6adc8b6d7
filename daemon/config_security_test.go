package daemon

import (
	"errors"
	"strings"
	"testing"
)

const testToken = "0123456789abcdef0123456789abcdef"

func securityEnv(k string) string {
	switch k {
	case "TEST_PW":
		return "secret"
	case "TEST_TOKEN":
		return testToken
	case "TEST_SHORT_TOKEN":
		return "short"
	}
	return ""
}

func TestConfigAdminListenAndToken(t *testing.T) {
	cases := []struct {
		name, admin, want string // want "" = valid
	}{
		{"loopback without token", "  listen: 127.0.0.1:8085\n", ""},
		{"localhost without token", "  listen: localhost:8085\n", ""},
		{"ipv6 loopback without token", "  listen: '[::1]:8085'\n", ""},
		{"every interface without token", "  listen: 0.0.0.0:8085\n",
			"t.yaml:2: admin.listen: 0.0.0.0:8085 is not a loopback address: set admin.token_env"},
		{"empty host without token", "  listen: ':8085'\n", "admin.listen: :8085 is not a loopback address"},
		{"host name without token", "  listen: cdc-1.internal:8085\n", "admin.listen: cdc-1.internal:8085 is not a loopback address"},
		{"every interface with token", "  listen: 0.0.0.0:8085\n  token_env: TEST_TOKEN\n", ""},
		{"token variable unset", "  listen: 0.0.0.0:8085\n  token_env: TEST_UNSET\n",
			"admin.token_env: environment variable TEST_UNSET is not set or empty"},
		{"token too short", "  listen: 127.0.0.1:8085\n  token_env: TEST_SHORT_TOKEN\n",
			"admin.token_env: the token in TEST_SHORT_TOKEN is shorter than 16 characters"},
		{"token pasted into the key", "  listen: 127.0.0.1:8085\n  token_env: 'pasted-Secret-Token-123'\n",
			"admin.token_env: must be the name of an environment variable"},
		{"pprof opt-in", "  listen: 127.0.0.1:8085\n  pprof: true\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validConfig, "admin:\n  listen: 127.0.0.1:0\n", "admin:\n"+tc.admin, 1)
			c, err := parseConfig("t.yaml", []byte(src), securityEnv)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected:\n%v", err)
				}
				if strings.Contains(tc.admin, "pprof: true") != c.Admin.Pprof {
					t.Errorf("admin.pprof = %t", c.Admin.Pprof)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pasted-Secret") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestConfigPprofDefaultsOff(t *testing.T) {
	c, err := parseConfig("t.yaml", []byte(validConfig), securityEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Pprof || c.Admin.TokenEnv != "" {
		t.Errorf("admin defaults = %+v, want pprof off and no token", c.Admin)
	}
}

// A secret pasted where a variable's name belongs, or carried in the
// registry URL, is never repeated by a validation error.
func TestConfigErrorsNeverShowSecrets(t *testing.T) {
	const secret = "Hunter2-SECRET"
	cases := []struct{ name, from, to string }{
		{"shard password_env", "    server_id: 4001\n", "    server_id: 4001\n    password_env: '" + secret + "'\n"},
		{"defaults password_env", "  password_env: TEST_PW\n", "  password_env: '" + secret + "'\n"},
		{"registry password_env", "  url: http://127.0.0.1:18081/apis/ccompat/v7\n",
			"  url: http://127.0.0.1:18081/apis/ccompat/v7\n  username: u\n  password_env: '" + secret + "'\n"},
		{"sasl password_env", "  brokers: [127.0.0.1:19092]\n",
			"  brokers: [127.0.0.1:19092]\n  sasl: {mechanism: PLAIN, username: u, password_env: '" + secret + "'}\n"},
		{"registry url scheme", "  url: http://127.0.0.1", "  url: ftp://user:" + secret + "@127.0.0.1"},
		{"registry url unparsable", "  url: http://127.0.0.1:18081", "  url: http://user:" + secret + "@127.0.0.1:port"},
		{"registry url token user", "  url: http://127.0.0.1:18081", "  url: ftp://" + secret + "@127.0.0.1:18081"},
		// A secret that is also a valid variable name (unset, of course).
		{"name-like secret", "  password_env: TEST_PW\n", "  password_env: Hunter2_SECRET\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validConfig, tc.from, tc.to, 1)
			if src == validConfig {
				t.Fatalf("edit %q not applied", tc.from)
			}
			_, err := parseConfig("t.yaml", []byte(src), securityEnv)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "Hunter2_SECRET") {
				t.Errorf("error shows the secret:\n%v", err)
			}
		})
	}
}

func TestConfigWarnings(t *testing.T) {
	cases := []struct {
		name, from, to string
		want           []string // keys warned about
	}{
		{"none", "", "", nil},
		{"SASL PLAIN without TLS", "  brokers: [127.0.0.1:19092]\n",
			"  brokers: [127.0.0.1:19092]\n  sasl: {mechanism: PLAIN, username: u, password_env: TEST_PW}\n",
			[]string{"kafka.sasl.mechanism"}},
		{"SASL PLAIN with TLS", "  brokers: [127.0.0.1:19092]\n",
			"  brokers: [127.0.0.1:19092]\n  tls: {enabled: true}\n  sasl: {mechanism: PLAIN, username: u, password_env: TEST_PW}\n", nil},
		{"SCRAM without TLS", "  brokers: [127.0.0.1:19092]\n",
			"  brokers: [127.0.0.1:19092]\n  sasl: {mechanism: SCRAM-SHA-512, username: u, password_env: TEST_PW}\n", nil},
		{"registry basic auth over http", "  url: http://127.0.0.1:18081/apis/ccompat/v7\n",
			"  url: http://127.0.0.1:18081/apis/ccompat/v7\n  username: u\n  password_env: TEST_PW\n", []string{"registry.url"}},
		{"registry userinfo over http", "  url: http://", "  url: http://u:p@", []string{"registry.url"}},
		{"registry basic auth over https", "  url: http://127.0.0.1:18081/apis/ccompat/v7\n",
			"  url: https://127.0.0.1:18081/apis/ccompat/v7\n  username: u\n  password_env: TEST_PW\n", nil},
		{"shard without verification", "    port: 13307\n", "    port: 13307\n    tls: {enabled: true, insecure_skip_verify: true}\n",
			[]string{"shards[1].tls.insecure_skip_verify"}},
		{"defaults without verification, once", "  password_env: TEST_PW\n",
			"  password_env: TEST_PW\n  tls: {enabled: true, insecure_skip_verify: true}\n", []string{"defaults.tls.insecure_skip_verify"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(validConfig, tc.from, tc.to, 1)
			c, err := parseConfig("t.yaml", []byte(src), securityEnv)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range c.Warnings() {
				got = append(got, w.Key)
				if strings.Contains(w.Msg, "p@") {
					t.Errorf("warning shows the URL's credentials: %s", w)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("warnings %v, want %v", c.Warnings(), tc.want)
			}
		})
	}
}
