package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
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
//	/debug/pprof/  Go's profiler (heap, goroutine, profile, trace)
type adminServer struct {
	addr     string
	log      *slog.Logger
	gatherer prometheus.Gatherer
	status   func() []ShardStatus
	version  string
	started  time.Time
}

func (a *adminServer) handler() http.Handler {
	mux := http.NewServeMux()
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
			w.WriteHeader(http.StatusServiceUnavailable)
			writeJSON(w, map[string]any{"ready": false, "shards_not_streaming": notReady})
			return
		}
		writeJSON(w, map[string]any{"ready": true})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		shards := a.status()
		sort.Slice(shards, func(i, j int) bool { return shards[i].Shard < shards[j].Shard })
		writeJSON(w, map[string]any{
			"version": a.version, "uptime_seconds": int64(time.Since(a.started).Seconds()), "shards": shards,
		})
	})
	// Go's profiler, for the operator who needs to see where CPU or memory
	// goes (the admin address is loopback by default: keep it private).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
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
