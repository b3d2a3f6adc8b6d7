package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tidemark-cdc/tidemark/daemon"
)

func verifyCmd() *cobra.Command {
	var (
		file     string
		opts     daemon.VerifyOptions
		asJSON   bool
		maxPrint int
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Compare every captured table, on every shard, with the latest state of its topic",
		Long: `Compare every captured table (or those --table names), on every shard, with
the latest state of its Kafka topic, and print the keys that are missing
from the topic, extra in it, or different, with their values.

The tables are read in primary-key order, --chunk rows per SELECT (no lock,
no long transaction), each row encoded and decoded as the daemon does; the
servers' positions are then taken and the daemon's committed positions
awaited until they include them (--wait; --no-wait for a stopped daemon),
and the topic read read_committed to its end. Memory is bounded (external
sorts in --tmp) whatever the tables' sizes. It may run while the daemon
streams: keys that differ are read again, --rounds times, after the daemon
has passed the servers' new positions, so changes in flight are not
reported. Columns added after a record was written are not compared for it.

Exit status: 0 when every topic agrees, 1 when any differs, 2 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			out := cmd.OutOrStdout()
			printed := map[string]int{}
			opts.OnDifference = func(d daemon.VerifyDifference) {
				if printed[d.Topic]++; maxPrint > 0 && printed[d.Topic] > maxPrint {
					return
				}
				if asJSON {
					b, _ := json.Marshal(d)
					fmt.Fprintf(out, "%s\n", b)
					return
				}
				fmt.Fprintln(out, describeDifference(d))
			}
			res, err := daemon.Verify(cmd.Context(), cfg, opts, log)
			for _, r := range res {
				if asJSON {
					b, _ := json.Marshal(struct {
						Summary daemon.VerifyTopic `json:"summary"`
					}{r})
					fmt.Fprintf(out, "%s\n", b)
					continue
				}
				if n := printed[r.Topic]; maxPrint > 0 && n > maxPrint {
					fmt.Fprintf(out, "  ... %d more differences not printed (--max-print)\n", n-maxPrint)
				}
				verdict := "OK"
				if r.Differences() > 0 {
					verdict = fmt.Sprintf("%d DIFFERENCES (%d missing, %d extra, %d different, %d duplicate, %d not rechecked)",
						r.Differences(), r.Missing, r.Extra, r.Different, r.Duplicate, r.Unchecked)
				}
				fmt.Fprintf(out, "%s: %s; %d rows in %d tables, %d live keys in %d records to %s, at %s; %d in-flight changes settled in %d rounds",
					r.Topic, verdict, r.Rows, len(r.Tables), r.LiveKeys, r.Records, offsets(r.Ends), positions(r.Positions), r.Settled, r.Rounds)
				if r.Unsettled > 0 {
					fmt.Fprintf(out, "; %d keys changed while every round read them: not compared (run again, or more --rounds)", r.Unsettled)
				}
				if r.Evolved > 0 {
					fmt.Fprintf(out, "; %d records predate a column (not compared on it)", r.Evolved)
				}
				fmt.Fprintln(out)
			}
			if errors.Is(err, daemon.ErrVerifyDifferences) {
				return &exitError{code: 1, err: err}
			}
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "tidemark.yaml", "the Tidemark configuration (shards, kafka, registry)")
	cmd.Flags().StringSliceVar(&opts.Tables, "table", nil, "only these captured tables (db.table, shell globs; repeatable)")
	cmd.Flags().IntVar(&opts.Chunk, "chunk", 1000, "rows per SELECT")
	cmd.Flags().IntVar(&opts.Rounds, "rounds", 3, "recheck rounds for keys that changed while verifying")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "how long to wait for the daemon to reach the servers' positions (default 2m)")
	cmd.Flags().BoolVar(&opts.NoWait, "no-wait", false, "compare with what Kafka holds now (the daemon is stopped)")
	cmd.Flags().IntVar(&opts.MaxDifferences, "max-differences", 1000, "differences kept and rechecked per topic (more are counted)")
	cmd.Flags().IntVar(&maxPrint, "max-print", 100, "differences printed per topic (0: all kept)")
	cmd.Flags().Int64Var(&opts.MemoryBytes, "memory", 128<<20, "bytes of sort buffers before spilling to --tmp")
	cmd.Flags().StringVar(&opts.TempDir, "tmp", "", "directory for sort runs (default: the system's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per difference, then one summary per topic")
	return cmd
}

func describeDifference(d daemon.VerifyDifference) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %-9s %s", d.Kind, d.Key)
	if len(d.Shards) > 0 {
		fmt.Fprintf(&b, " on %s", strings.Join(d.Shards, ", "))
	}
	if d.Offset >= 0 {
		fmt.Fprintf(&b, "; topic partition %d offset %d", d.Partition, d.Offset)
		if d.KafkaShard != "" {
			fmt.Fprintf(&b, " (from %s)", d.KafkaShard)
		}
	}
	if len(d.Columns) > 0 {
		fmt.Fprintf(&b, "; columns %s", strings.Join(d.Columns, ", "))
	}
	if d.MySQL != nil {
		fmt.Fprintf(&b, "\n      mysql: %s", d.MySQL)
	}
	if d.Kafka != nil {
		fmt.Fprintf(&b, "\n      kafka: %s", d.Kafka)
	}
	return b.String()
}

func offsets(m map[int32]int64) string {
	parts := make([]string, 0, len(m))
	for p, o := range m {
		parts = append(parts, fmt.Sprintf("%d:%d", p, o))
	}
	sort.Strings(parts)
	return "offsets {" + strings.Join(parts, " ") + "}"
}

func positions(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for s, p := range m {
		parts = append(parts, s+"="+p)
	}
	sort.Strings(parts)
	return "positions {" + strings.Join(parts, " ") + "}"
}
