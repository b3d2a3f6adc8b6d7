package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/tidemark-cdc/tidemark/daemon"
)

// `tidemark snapshot`: the admin API's snapshot calls from a shell.

type adminClient struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

func snapshotCmd() *cobra.Command {
	var file, admin, tokenEnv string
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Start, watch, pause, resume and cancel incremental snapshots of a running daemon",
		Long: `Talks to a running daemon's admin endpoint: --admin http://host:port, or the
admin.listen of the configuration file given with -c. State-changing calls send
the bearer token of the environment variable --token-env (default: the
configuration's admin.token_env).`,
	}
	cmd.PersistentFlags().StringVarP(&file, "config", "c", "", "configuration file (for admin.listen and admin.token_env)")
	cmd.PersistentFlags().StringVar(&admin, "admin", "", "admin endpoint, e.g. http://127.0.0.1:8085")
	cmd.PersistentFlags().StringVar(&tokenEnv, "token-env", "", "environment variable holding the admin bearer token")
	client := func() (*adminClient, error) {
		c := &adminClient{base: admin, http: &http.Client{Timeout: 30 * time.Second}}
		if file != "" {
			cfg, err := loadConfig(file)
			if err != nil {
				return nil, err
			}
			if c.base == "" {
				c.base = "http://" + cfg.Admin.Listen
			}
			if tokenEnv == "" {
				tokenEnv = cfg.Admin.TokenEnv
			}
		}
		if c.base == "" {
			return nil, &exitError{code: 2, err: fmt.Errorf("give --admin http://host:port or -c FILE")}
		}
		if !strings.Contains(c.base, "://") {
			c.base = "http://" + c.base
		}
		c.base = strings.TrimRight(c.base, "/")
		if tokenEnv != "" {
			c.token = os.Getenv(tokenEnv)
		}
		return c, nil
	}

	var req daemon.SnapshotRequest
	var watch bool
	start := &cobra.Command{
		Use:   "start --tables db.table[,db.table...]",
		Short: "Start a snapshot of tables (shell globs) on some or all shards",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			var st daemon.SnapshotStatus
			if err := c.call(cmd.Context(), http.MethodPost, "/snapshots", req, &st); err != nil {
				return err
			}
			if watch {
				return c.watch(cmd.Context(), cmd.OutOrStdout(), st.ID)
			}
			return printStatus(cmd.OutOrStdout(), st)
		},
	}
	start.Flags().StringSliceVar(&req.Tables, "tables", nil, "tables as database.table, shell globs allowed (physical names of each shard)")
	start.Flags().StringSliceVar(&req.Shards, "shards", nil, "shards (default: all)")
	start.Flags().StringVar(&req.Where, "where", "", "SQL condition: snapshot only the rows it selects")
	start.Flags().IntVar(&req.ChunkSize, "chunk-size", 0, "rows per chunk (default: the shard's snapshot.chunk_size)")
	start.Flags().IntVar(&req.Readers, "readers", 0, "chunk readers per table (default: the shard's snapshot.readers)")
	start.Flags().BoolVar(&watch, "watch", false, "then show live progress until it ends")
	_ = start.MarkFlagRequired("tables")

	status := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show every snapshot, or one; --watch shows live progress bars per shard and table",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if watch {
					return c.watch(cmd.Context(), cmd.OutOrStdout(), args[0])
				}
				var st daemon.SnapshotStatus
				if err := c.call(cmd.Context(), http.MethodGet, "/snapshots/"+args[0], nil, &st); err != nil {
					return err
				}
				return printStatus(cmd.OutOrStdout(), st)
			}
			var all struct {
				Snapshots []daemon.SnapshotStatus `json:"snapshots"`
			}
			if err := c.call(cmd.Context(), http.MethodGet, "/snapshots", nil, &all); err != nil {
				return err
			}
			if len(all.Snapshots) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no snapshots")
			}
			for _, st := range all.Snapshots {
				if err := printStatus(cmd.OutOrStdout(), st); err != nil {
					return err
				}
			}
			return nil
		},
	}
	status.Flags().BoolVar(&watch, "watch", false, "show live progress until the snapshot ends (needs an ID)")

	op := func(name, short string) *cobra.Command {
		return &cobra.Command{
			Use: name + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := client()
				if err != nil {
					return err
				}
				var st daemon.SnapshotStatus
				if err := c.call(cmd.Context(), http.MethodPost, "/snapshots/"+args[0]+"/"+name, nil, &st); err != nil {
					return err
				}
				return printStatus(cmd.OutOrStdout(), st)
			},
		}
	}
	cmd.AddCommand(start, status,
		op("pause", "Pause a snapshot: its readers stop, its progress stays"),
		op("resume", "Resume a paused snapshot where it stopped"),
		op("cancel", "Cancel a snapshot (what it emitted stays in Kafka)"))
	return cmd
}

// call sends one admin request and decodes the answer into out; a non-2xx
// answer is an error with the daemon's message.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin endpoint %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, e.Error)
	}
	return json.Unmarshal(data, out)
}

func printStatus(w io.Writer, st daemon.SnapshotStatus) error {
	fmt.Fprintf(w, "snapshot %s: %s (%s, created %s) tables %s", st.ID, st.State, st.Reason, st.CreatedAt.Format(time.RFC3339), strings.Join(st.Request.Tables, ","))
	if st.Request.Where != "" {
		fmt.Fprintf(w, " where %s", st.Request.Where)
	}
	fmt.Fprintln(w)
	for _, sh := range st.Shards {
		fmt.Fprintf(w, "  %s: %s", sh.Shard, sh.State)
		if sh.Error != "" {
			fmt.Fprintf(w, " (%s)", sh.Error)
		}
		fmt.Fprintln(w)
		for _, t := range sh.Tables {
			fmt.Fprintf(w, "    %-40s %-9s %5.1f%%  %d rows, %d emitted, %d superseded, %d chunks, %.0f rows/s",
				t.Table, t.State, t.Percent, t.Rows, t.Emitted, t.Superseded, t.Chunks, t.RowsPerSecond)
			if t.ETASeconds > 0 {
				fmt.Fprintf(w, ", ETA %s", (time.Duration(t.ETASeconds) * time.Second).String())
			}
			if t.Error != "" {
				fmt.Fprintf(w, " (%s)", t.Error)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

// watch draws a progress bar per shard and table (mpb) until the snapshot
// ends, then prints its final status.
func (c *adminClient) watch(ctx context.Context, w io.Writer, id string) error {
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithRefreshRate(500*time.Millisecond))
	bars := map[string]*mpb.Bar{}
	var mu sync.Mutex // current is read by mpb's drawing goroutine
	current := map[string]daemon.TableSnapshot{}
	var st daemon.SnapshotStatus
	for {
		if err := c.call(ctx, http.MethodGet, "/snapshots/"+id, nil, &st); err != nil {
			p.Shutdown()
			return err
		}
		var keys []string
		mu.Lock()
		for _, sh := range st.Shards {
			for _, t := range sh.Tables {
				k := sh.Shard + " " + t.Table
				keys, current[k] = append(keys, k), t
			}
		}
		mu.Unlock()
		sort.Strings(keys)
		for _, k := range keys {
			t := current[k]
			total := max(t.EstimatedRows, t.Rows, 1)
			b, ok := bars[k]
			if !ok {
				label := k
				b = p.AddBar(total,
					mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR), decor.Percentage(decor.WCSyncSpace)),
					mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
						mu.Lock()
						tt := current[label]
						mu.Unlock()
						return fmt.Sprintf("%d rows %.0f/s %s", tt.Rows, tt.RowsPerSecond, tt.State)
					})),
				)
				bars[k] = b
			}
			if t.State == "done" {
				total = max(t.Rows, 1)
			}
			b.SetTotal(total, false)
			b.SetCurrent(min(t.Rows, total))
			if t.State != "queued" && t.State != "running" && t.State != "paused" {
				b.SetTotal(max(t.Rows, 1), true)
			}
		}
		if st.State != "queued" && st.State != "running" && st.State != "paused" {
			for _, b := range bars {
				if !b.Completed() {
					b.Abort(false)
				}
			}
			p.Wait()
			return printStatus(w, st)
		}
		select {
		case <-ctx.Done():
			p.Shutdown()
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
