package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminRequest sends one request to a running daemon's admin endpoint.
func adminRequest(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With admin.token_env set, a running daemon refuses every state-changing
// request without the right bearer token (401, JSON), routes the right one
// (404 unknown path, 405 wrong method), and serves reads without it. pprof
// is not served unless admin.pprof is on, and then only with the token.
func TestDaemonAdminToken(t *testing.T) {
	s := stackEnv(t)
	token := uniqueName("AdminToken-0123456789")
	t.Setenv("IT_ADMIN_TOKEN", token)
	withToken := func(cfg, extra string) string {
		return strings.Replace(cfg, "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  token_env: IT_ADMIN_TOKEN\n"+extra, 1)
	}

	t.Run("state-changing requests need the token", func(t *testing.T) {
		e := newE2E(t, s)
		d := startDaemon(t, withToken(e.config([]int{0}, ""), ""))
		base := "http://" + d.d.AdminAddr()
		for _, tc := range []struct {
			method, path, token string
			want                int
		}{
			{"POST", "/status", "", 401},
			{"POST", "/status", "wrong-" + token, 401},
			{"DELETE", "/shards/shard1", "", 401},
			{"PUT", "/no/such/route", token[:len(token)-1], 401},
			{"POST", "/status", token, 405},
			{"POST", "/no/such/route", token, 404},
			{"GET", "/status", "", 200},
			{"GET", "/metrics", "", 200},
			{"GET", "/healthz", "", 200},
			{"GET", "/debug/pprof/", "", 404},
			{"GET", "/debug/pprof/", token, 404},
		} {
			code, body := adminRequest(t, tc.method, base+tc.path, tc.token)
			if code != tc.want {
				t.Errorf("%s %s (token %t): %d, want %d: %s", tc.method, tc.path, tc.token != "", code, tc.want, body)
			}
			if code == 401 {
				var e struct{ Error string }
				if json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "Authorization: Bearer") {
					t.Errorf("401 body %q: want a JSON error naming the header", body)
				}
			}
			if strings.Contains(body, token) {
				t.Errorf("%s %s: the answer shows the token", tc.method, tc.path)
			}
		}
	})

	t.Run("pprof when enabled, behind the token", func(t *testing.T) {
		e := newE2E(t, s)
		d := startDaemon(t, withToken(e.config([]int{0}, ""), "  pprof: true\n"))
		base := "http://" + d.d.AdminAddr()
		if code, _ := adminRequest(t, "GET", base+"/debug/pprof/goroutine?debug=1", ""); code != 401 {
			t.Errorf("pprof without the token: %d, want 401", code)
		}
		if code, body := adminRequest(t, "GET", base+"/debug/pprof/goroutine?debug=1", token); code != 200 || !strings.Contains(body, "goroutine") {
			t.Errorf("pprof with the token: %d %.200s", code, body)
		}
	})

	t.Run("pprof on loopback without a token", func(t *testing.T) {
		e := newE2E(t, s)
		d := startDaemon(t, strings.Replace(e.config([]int{0}, ""), "  listen: 127.0.0.1:0\n", "  listen: 127.0.0.1:0\n  pprof: true\n", 1))
		if code, _ := adminRequest(t, "GET", "http://"+d.d.AdminAddr()+"/debug/pprof/", ""); code != 200 {
			t.Errorf("pprof: %d, want 200", code)
		}
	})

	t.Run("a non-loopback address without a token is refused", func(t *testing.T) {
		e := newE2E(t, s)
		cfg := strings.Replace(e.config([]int{0}, ""), "  listen: 127.0.0.1:0\n", "  listen: 0.0.0.0:0\n", 1)
		code, out := runCLI(t, time.Minute, "run", "-c", writeConfig(t, cfg))
		if code != 2 || !strings.Contains(out, "admin.listen") || !strings.Contains(out, "admin.token_env") {
			t.Fatalf("exit %d, want 2 naming admin.listen and admin.token_env:\n%s", code, out)
		}
	})
}
