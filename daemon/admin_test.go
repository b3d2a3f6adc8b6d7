package daemon

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// testAdmin is an admin server with one state-changing test route
// registered the way the snapshot API will be, and a log buffer.
func testAdmin(token string, pprof bool) (http.Handler, *bytes.Buffer) {
	var logs bytes.Buffer
	a := &adminServer{
		log: slog.New(slog.NewTextHandler(&logs, nil)), gatherer: prometheus.NewRegistry(),
		status: func() []ShardStatus { return nil }, token: token, pprof: pprof,
	}
	mux := http.NewServeMux()
	a.routes(mux)
	mux.HandleFunc("POST /test/mutate", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	return a.requireToken(mux), &logs
}

func serve(h http.Handler, method, path, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAdminTokenGuardsStateChangingRequests(t *testing.T) {
	h, logs := testAdmin(testToken, false)
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"read without token", "GET", "/status", "", 200},
		{"HEAD without token", "HEAD", "/healthz", "", 200},
		{"read with a wrong token still reads", "GET", "/healthz", "Bearer wrong", 200},
		{"mutate without token", "POST", "/test/mutate", "", 401},
		{"mutate with a wrong token", "POST", "/test/mutate", "Bearer wrong-" + testToken, 401},
		{"mutate with a token prefix", "POST", "/test/mutate", "Bearer " + testToken[:20], 401},
		{"mutate with another scheme", "POST", "/test/mutate", "Basic " + testToken, 401},
		{"mutate with an empty bearer", "POST", "/test/mutate", "Bearer ", 401},
		{"mutate with the token", "POST", "/test/mutate", "Bearer " + testToken, 202},
		{"scheme is case-insensitive", "POST", "/test/mutate", "bearer " + testToken, 202},
		{"unknown route, no token: 401 before 404", "DELETE", "/nothing", "", 401},
		{"unknown route with the token", "POST", "/nothing", "Bearer " + testToken, 404},
		{"wrong method with the token", "POST", "/status", "Bearer " + testToken, 405},
		{"PUT on a read route without token", "PUT", "/metrics", "", 401},
		{"pprof off", "GET", "/debug/pprof/", "Bearer " + testToken, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.method, tc.path, tc.auth)
			if rec.Code != tc.want {
				t.Fatalf("%s %s: status %d, want %d (%s)", tc.method, tc.path, rec.Code, tc.want, rec.Body)
			}
			if tc.want != 401 {
				return
			}
			var body struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, "Authorization: Bearer") {
				t.Errorf("401 body %q: want a JSON error naming the header", rec.Body)
			}
			if rec.Header().Get("WWW-Authenticate") == "" || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("401 headers %v", rec.Header())
			}
		})
	}
	if strings.Contains(logs.String(), testToken[:20]) {
		t.Errorf("the log shows the token:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "admin request refused") {
		t.Errorf("refused requests are not logged:\n%s", logs)
	}
}

func TestAdminWithoutTokenAllowsLoopbackMutations(t *testing.T) {
	h, _ := testAdmin("", false)
	if rec := serve(h, "POST", "/test/mutate", ""); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: with no token configured the (loopback-only) endpoint is open", rec.Code)
	}
}

func TestAdminPprofIsOptInAndGuarded(t *testing.T) {
	h, _ := testAdmin("", false)
	if rec := serve(h, "GET", "/debug/pprof/", ""); rec.Code != http.StatusNotFound {
		t.Errorf("pprof off: status %d, want 404", rec.Code)
	}
	h, _ = testAdmin("", true)
	if rec := serve(h, "GET", "/debug/pprof/", ""); rec.Code != http.StatusOK {
		t.Errorf("pprof on, no token configured: status %d, want 200", rec.Code)
	}
	h, _ = testAdmin(testToken, true)
	if rec := serve(h, "GET", "/debug/pprof/goroutine?debug=1", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("pprof on, token configured, none sent: status %d, want 401", rec.Code)
	}
	if rec := serve(h, "GET", "/debug/pprof/goroutine?debug=1", "Bearer "+testToken); rec.Code != http.StatusOK {
		t.Errorf("pprof on, with the token: status %d, want 200", rec.Code)
	}
}

func TestAdminReadyzIsJSON(t *testing.T) {
	a := &adminServer{log: slog.Default(), gatherer: prometheus.NewRegistry(),
		status: func() []ShardStatus { return []ShardStatus{{Shard: "s1", State: StateRetrying}} }}
	rec := serve(a.handler(), "GET", "/readyz", "")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
