package daemon

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer serves the operator endpoints:
//
//	/healthz  200 while the process runs (liveness)
//	/readyz   200 once every shard is streaming, 503 otherwise (readiness)
//	/status   JSON: every shard's state, positions, lag and last error
//	/metrics  Prometheus
//	/debug/pprof/  Go's profiler (heap, goroutine, profile, trace), only with admin.pprof
//
// With a token configured (admin.token_env), every request whose method is
// not GET or HEAD, and pprof, must carry "Authorization: Bearer <token>".
type adminServer struct {
	addr     string
	log      *slog.Logger
	gatherer prometheus.Gatherer
	status   func() []ShardStatus
	gc       func() *GCStatus // the periodic large-record GC; nil or returning nil when off
	version  string
	started  time.Time
	token    string // "" = none configured (then the address must be loopback)
	pprof    bool
	ctl      adminControl // shard and snapshot control; nil: none (tests)
}

// adminControl is what the control endpoints ask of the daemon.
type adminControl interface {
	RestartShard(name string) error
	StartSnapshot(ctx context.Context, req SnapshotRequest) (SnapshotStatus, error)
	Snapshots() []SnapshotStatus
	Snapshot(id string) (SnapshotStatus, bool)
	PauseSnapshot(id string) (SnapshotStatus, error)
	ResumeSnapshot(id string) (SnapshotStatus, error)
	CancelSnapshot(id string) (SnapshotStatus, error)
}

// handler is every route behind the token check. The check wraps the whole
// mux, not single routes: an endpoint that changes state (the snapshot API,
// shard control) registered in routes is protected without its author
// having to remember anything.
func (a *adminServer) handler() http.Handler {
	mux := http.NewServeMux()
	a.routes(mux)
	return a.requireToken(mux)
}

// routes registers the endpoints. Register new ones here, with their method
// in the pattern ("POST /shards/{name}/restart"): the mux answers 405 to
// any other method and requireToken guards every non-GET one.
func (a *adminServer) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		var notReady []string
		for _, s := range a.status() {
			if s.State != StateStreaming {
				notReady = append(notReady, s.Shard+": "+string(s.State))
			}
		}
		if len(notReady) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "shards_not_streaming": notReady})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		shards := a.status()
		sort.Slice(shards, func(i, j int) bool { return shards[i].Shard < shards[j].Shard })
		doc := map[string]any{"version": a.version, "uptime_seconds": int64(time.Since(a.started).Seconds()), "shards": shards}
		if a.gc != nil {
			if gc := a.gc(); gc != nil {
				doc["large_record_gc"] = gc
			}
		}
		writeJSON(w, http.StatusOK, doc)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}))
	if a.ctl != nil {
		a.controlRoutes(mux)
	}
	if a.pprof {
		// Opt-in: a CPU profile or trace costs CPU for its duration, and
		// goroutine dumps show the code's internals.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
}

// requireToken refuses, with 401, a request that needs the token and does
// not carry it. The comparison is constant-time (on digests, so that the
// token's length does not show either); the token is never logged.
func (a *adminServer) requireToken(next http.Handler) http.Handler {
	if a.token == "" {
		return next
	}
	want := sha256.Sum256([]byte(a.token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.needsToken(r) {
			next.ServeHTTP(w, r)
			return
		}
		got, ok := bearerToken(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			a.log.Warn("admin request refused: missing or wrong bearer token",
				"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="tidemark"`)
			writeJSON(w, http.StatusUnauthorized, map[string]any{
				"error": "unauthorized: " + r.Method + " " + r.URL.Path + " needs the header \"Authorization: Bearer <token>\" with the token of admin.token_env",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// needsToken: everything that can change state (any method but GET and
// HEAD), and the profiler.
func (a *adminServer) needsToken(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return true
	}
	return a.pprof && strings.HasPrefix(r.URL.Path, "/debug/pprof/")
}

// bearerToken is the token of an "Authorization: Bearer <token>" header
// (the scheme is case-insensitive, RFC 6750).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Run listens and serves until ctx is cancelled.
func (a *adminServer) Run(ctx context.Context, ready chan<- string) error {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return fmt.Errorf("admin server: listen on %s: %w", a.addr, err)
	}
	// Configuration validation refuses a non-loopback listen address without
	// a token; this checks what was actually bound (a name may resolve
	// elsewhere).
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && a.token == "" && !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("admin server: %s bound %s, which is not a loopback address, and no admin.token_env is set", a.addr, tcp)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin server on %s: %w", a.addr, err)
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// controlRoutes are the endpoints that change what the daemon does (all
// behind requireToken, being POSTs), and the snapshot status.
//
//	POST /shards/{name}/restart        a new pipeline lifetime now (a parked shard too)
//	POST /snapshots                    start a snapshot (SnapshotRequest) → 201 + SnapshotStatus
//	GET  /snapshots                    every snapshot
//	GET  /snapshots/{id}               one snapshot
//	POST /snapshots/{id}/pause|resume|cancel
func (a *adminServer) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /shards/{name}/restart", func(w http.ResponseWriter, r *http.Request) {
		if err := a.ctl.RestartShard(r.PathValue("name")); err != nil {
			writeError(w, err)
			return
		}
		a.log.Info("shard restart requested over the admin API", "shard", r.PathValue("name"))
		writeJSON(w, http.StatusAccepted, map[string]any{"restarting": r.PathValue("name")})
	})
	mux.HandleFunc("POST /snapshots", func(w http.ResponseWriter, r *http.Request) {
		var req SnapshotRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body: " + err.Error()})
			return
		}
		// One object and nothing after it: `{"tables":["a.b"]} {"where":"x"}`
		// or a cut-and-paste accident is refused, not half read.
		if _, err := dec.Token(); err != io.EOF {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "body: data after the JSON object"})
			return
		}
		st, err := a.ctl.StartSnapshot(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, st)
	})
	mux.HandleFunc("GET /snapshots", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"snapshots": a.ctl.Snapshots()})
	})
	mux.HandleFunc("GET /snapshots/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := a.ctl.Snapshot(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no snapshot " + r.PathValue("id")})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	for op, fn := range map[string]func(string) (SnapshotStatus, error){
		"pause": a.ctl.PauseSnapshot, "resume": a.ctl.ResumeSnapshot, "cancel": a.ctl.CancelSnapshot,
	} {
		mux.HandleFunc("POST /snapshots/{id}/"+op, func(w http.ResponseWriter, r *http.Request) {
			st, err := fn(r.PathValue("id"))
			if err != nil {
				writeError(w, err)
				return
			}
			a.log.Info("snapshot "+op+" requested over the admin API", "snapshot", r.PathValue("id"))
			writeJSON(w, http.StatusOK, st)
		})
	}
}

// writeError answers a control call's error with its HTTP status.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var re *SnapshotRequestError
	switch {
	case errors.As(err, &re):
		code = http.StatusBadRequest
	case errors.Is(err, ErrSnapshotNotFound), errors.Is(err, ErrNoShard):
		code = http.StatusNotFound
	case errors.Is(err, ErrSnapshotState):
		code = http.StatusConflict
	}
	writeJSON(w, code, map[string]any{"error": err.Error()})
}
