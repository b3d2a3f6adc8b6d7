package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/largerecord"
)

func largeRecordCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "largerecord", Short: "Claim-check maintenance (large_records.store)"}
	cmd.AddCommand(largeRecordGCCmd())
	return cmd
}

func largeRecordGCCmd() *cobra.Command {
	var (
		file    string
		opts    daemon.GCOptions
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete the stored large records no Kafka record references any more",
		Long: `Delete the objects in large_records.store that no record still in Kafka
references: for each topic with objects, read it from its start to its end
and note every claim-check pointer, then delete the unreferenced objects
older than --grace (their records may still be on their way to Kafka).
Memory is bounded whatever the topic's size (a Bloom filter: an error only
keeps an orphan for the next run). Topics Kafka does not have are skipped
unless --missing-topics. --dry-run lists what would be deleted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			out := cmd.OutOrStdout()
			if verbose || opts.DryRun {
				opts.OnObject = func(topic string, o largerecord.ObjectInfo, a largerecord.SweepAction) {
					if a == largerecord.SweepDeleted || verbose {
						verb := string(a)
						if a == largerecord.SweepDeleted && opts.DryRun {
							verb = "would delete"
						}
						fmt.Fprintf(out, "%s\t%s\t%d bytes\t%s\n", verb, o.Name, o.Size, o.Written.UTC().Format(time.RFC3339))
					}
				}
			}
			res, err := daemon.CollectLargeRecords(cmd.Context(), cfg, opts, log)
			for _, r := range res {
				fmt.Fprintf(out, "topic %s: %d records read, %d references; %d objects: %d referenced, %d young, %d %s (%d bytes)%s\n",
					r.Topic, r.Records, r.References, r.Scanned, r.Referenced, r.Young, r.Deleted,
					map[bool]string{true: "would be deleted", false: "deleted"}[opts.DryRun], r.DeletedBytes,
					map[bool]string{true: " [not in Kafka: skipped]", false: ""}[r.Missing && !opts.MissingTopics])
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "tidemark.yaml", "the Tidemark configuration (its kafka and large_records blocks)")
	cmd.Flags().DurationVar(&opts.Grace, "grace", 24*time.Hour, "keep unreferenced objects younger than this")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be deleted; delete nothing")
	cmd.Flags().BoolVar(&opts.MissingTopics, "missing-topics", false, "also collect the objects of topics Kafka does not have")
	cmd.Flags().IntVar(&opts.ExpectedRefs, "expected-refs", 1<<20, "references per topic the filter is sized for")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every object's decision")
	return cmd
}
