package serde

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRegistry speaks enough of the Confluent API for the client's tests.
type fakeRegistry struct {
	srv             *httptest.Server
	registers, gets atomic.Int32
	status          atomic.Int32 // forced status for every request when non-zero

	mu         sync.Mutex
	user, pass string
}

func (f *fakeRegistry) auth() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.user, f.pass
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{}
	schemas := map[string]int{}
	var texts []string
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.user, f.pass, _ = r.BasicAuth()
		if s := f.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			fmt.Fprintf(w, `{"error_code":%d,"message":"forced"}`, s)
			return
		}
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
			f.registers.Add(1)
			if ct := r.Header.Get("Content-Type"); ct != "application/vnd.schemaregistry.v1+json" {
				t.Errorf("content type %q", ct)
			}
			var req struct{ Schema string }
			_ = json.NewDecoder(r.Body).Decode(&req)
			if strings.Contains(req.Schema, "incompatible") {
				w.WriteHeader(409)
				fmt.Fprint(w, `{"error_code":409,"message":"Schema being registered is incompatible"}`)
				return
			}
			id, ok := schemas[req.Schema]
			if !ok {
				texts = append(texts, req.Schema)
				id = len(texts)
				schemas[req.Schema] = id
			}
			fmt.Fprintf(w, `{"id":%d}`, id)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/schemas/ids/"):
			f.gets.Add(1)
			var id int
			fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/api/schemas/ids/"), "%d", &id)
			if id < 1 || id > len(texts) {
				w.WriteHeader(404)
				fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
				return
			}
			b, _ := json.Marshal(map[string]string{"schema": texts[id-1]})
			w.Write(b)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestRegistryClient(t *testing.T) {
	f := newFakeRegistry(t)
	ctx := context.Background()
	u := strings.Replace(f.srv.URL, "http://", "http://alice:s3cret@", 1) + "/api/"
	c, err := NewRegistryClient(RegistryConfig{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Register(ctx, "t-value", `"string"`)
	if err != nil || id != 1 {
		t.Fatalf("register: %d %v", id, err)
	}
	if u, p := f.auth(); u != "alice" || p != "s3cret" {
		t.Errorf("basic auth %q:%q", u, p)
	}
	if id2, _ := c.Register(ctx, "t-value", `"string"`); id2 != 1 || f.registers.Load() != 1 {
		t.Errorf("second register: id %d, %d requests", id2, f.registers.Load())
	}
	// Schema by id: fetched once, then cached.
	c2, _ := NewRegistryClient(RegistryConfig{URL: f.srv.URL + "/api", Username: "bob", Password: "pw"})
	for range 2 {
		if s, err := c2.Schema(ctx, 1); err != nil || s != `"string"` {
			t.Errorf("schema 1: %q %v", s, err)
		}
	}
	if f.gets.Load() != 1 {
		t.Errorf("%d GETs, want 1 (cached)", f.gets.Load())
	}
	_, err = c2.Schema(ctx, 99)
	if !errors.Is(err, ErrSchemaNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	_, err = c.Register(ctx, "t-value", `"incompatible"`)
	var re *RegistryError
	if !errors.Is(err, ErrIncompatibleSchema) || !errors.As(err, &re) || re.StatusCode != 409 {
		t.Errorf("409: %v", err)
	}

	f.status.Store(503)
	_, err = c.Register(ctx, "t-value", `"int"`)
	if !errors.As(err, &re) || re.StatusCode != 503 {
		t.Errorf("503: %v", err)
	}
	f.status.Store(401)
	if _, err = c.Register(ctx, "t-value", `"int"`); !errors.As(err, &re) || re.StatusCode != 401 {
		t.Errorf("401: %v", err)
	}
	f.status.Store(0)

	cfg := RegistryConfig{URL: u, Password: "s3cret"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %#v", cfg, cfg, cfg, c), err.Error()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password printed: %s", s)
		}
	}
}

func TestRegistryClientUnreachable(t *testing.T) {
	f := newFakeRegistry(t)
	url := f.srv.URL
	f.srv.Close()
	c, _ := NewRegistryClient(RegistryConfig{URL: url, Password: "s3cret", Timeout: time.Second})
	_, err := c.Register(context.Background(), "s", `"int"`)
	if !errors.Is(err, ErrRegistryUnavailable) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("connection refused: %v, want ErrRegistryUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Register(ctx, "s", `"int"`); !errors.Is(err, context.Canceled) || errors.Is(err, ErrRegistryUnavailable) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRegistryConfigValidation(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "registry:8081", "http://"} {
		if _, err := NewRegistryClient(RegistryConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	_, err := NewRegistryClient(RegistryConfig{URL: "http://u:p4ss@h:1/\x7f"})
	if err == nil || strings.Contains(err.Error(), "p4ss") {
		t.Errorf("bad URL error %v", err)
	}
}
