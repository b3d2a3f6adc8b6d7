package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tidemark-cdc/tidemark/daemon"
	"github.com/tidemark-cdc/tidemark/router"
	"github.com/tidemark-cdc/tidemark/serde"
)

func tailCmd() *cobra.Command {
	var (
		file, brokers, registryURL string
		fromEnd, follow            bool
		limit                      int
	)
	cmd := &cobra.Command{
		Use:   "tail TOPIC",
		Short: "Print a topic's records decoded to JSON lines",
		Long: `Print a topic's records decoded to JSON lines, one per record: partition,
offset, timestamp, then the decoded key and envelope (op, before, after,
source), or "value": null for a tombstone. Claim-checked records are
resolved the way any consumer using Tidemark's serde resolves them.

Brokers and registry come from -c FILE (a Tidemark configuration: its
kafka TLS and SASL settings and registry credentials apply, exactly as in
the daemon) or from --brokers/--registry: plaintext Kafka, registry
credentials in the URL if any (default: $TIDEMARK_KAFKA_BROKERS,
$TIDEMARK_REGISTRY_URL).
By default it prints the records present now and exits; --follow keeps
waiting for new ones.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kafkaCfg, regCfg, err := tailClients(file, brokers, registryURL)
			if err != nil {
				return err
			}
			reg, err := serde.NewRegistryClient(regCfg)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			return tail(cmd.Context(), cmd, router.ClientOptions(kafkaCfg, log), serde.NewDecoder(reg, serde.DecoderOptions{}), args[0], fromEnd, follow, limit)
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "take brokers and registry from this Tidemark configuration")
	cmd.Flags().StringVar(&brokers, "brokers", os.Getenv("TIDEMARK_KAFKA_BROKERS"), "Kafka bootstrap brokers, comma-separated")
	cmd.Flags().StringVar(&registryURL, "registry", os.Getenv("TIDEMARK_REGISTRY_URL"), "Schema Registry URL")
	cmd.Flags().BoolVar(&fromEnd, "from-end", false, "start at the end of the topic (only new records; implies --follow)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep waiting for new records")
	cmd.Flags().IntVarP(&limit, "max", "n", 0, "stop after this many records (0: no limit)")
	return cmd
}

// tailClients is the Kafka and registry configuration of tail: from a
// Tidemark configuration through the daemon's own mapping (TLS, SASL, the
// registry's credentials and TLS), or from the flags (plaintext).
func tailClients(file, brokers, registryURL string) (router.Config, serde.RegistryConfig, error) {
	if file != "" {
		cfg, err := loadConfig(file)
		if err != nil {
			return router.Config{}, serde.RegistryConfig{}, err
		}
		kafkaCfg, err := cfg.Kafka.ClientConfig()
		if err != nil {
			return router.Config{}, serde.RegistryConfig{}, err
		}
		kafkaCfg.ClientID += "-tail"
		regCfg, err := cfg.Registry.ClientConfig()
		return kafkaCfg, regCfg, err
	}
	seeds := splitList(brokers)
	if len(seeds) == 0 || registryURL == "" {
		return router.Config{}, serde.RegistryConfig{}, errors.New("no brokers or registry: pass -c FILE, or --brokers and --registry")
	}
	// Checked here so that no error quotes the URL's credentials.
	if u, err := url.Parse(registryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return router.Config{}, serde.RegistryConfig{}, fmt.Errorf("--registry %s: want http(s)://host[:port][/path]", daemon.RedactURL(registryURL))
	}
	return router.Config{Brokers: seeds, ClientID: "tidemark-tail"},
		serde.RegistryConfig{URL: registryURL, Timeout: 30 * time.Second}, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func tail(ctx context.Context, cmd *cobra.Command, clientOpts []kgo.Opt, dec *serde.Decoder, topic string, fromEnd, follow bool, limit int) error {
	start := kgo.NewOffset().AtStart()
	if fromEnd {
		start, follow = kgo.NewOffset().AtEnd(), true
	}
	// read_committed: what a consumer of exactly-once delivery sees (the
	// records of aborted transactions never show).
	// Control records (transaction markers) are kept, and skipped below,
	// so that the end offsets are reached even when a partition ends with
	// one.
	cl, err := kgo.NewClient(append(clientOpts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	// Without --follow, stop at the last stable offsets seen now (the end
	// of what read_committed shows: an open transaction's records wait).
	var ends map[int32]int64
	if !follow {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		offs, err := kadm.NewClient(cl).ListCommittedOffsets(lctx, topic)
		cancel()
		if err != nil {
			return fmt.Errorf("list end offsets of %s: %w", topic, err)
		}
		if err := offs.Error(); err != nil {
			return fmt.Errorf("topic %s: %w", topic, err)
		}
		ends = map[int32]int64{}
		offs.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && o.Offset > 0 { // a partition emptied by retention ends the quiet way below
				ends[o.Partition] = o.Offset
			}
		})
		if len(ends) == 0 {
			return nil
		}
	}

	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	printed := 0
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !follow {
			// Offsets below the end may hold no record (transaction markers,
			// compaction): a quiet poll means there is nothing more to print.
			pollCtx, cancel = context.WithTimeout(ctx, 5*time.Second)
		}
		fetches := cl.PollFetches(pollCtx)
		quiet := pollCtx.Err() != nil
		cancel()
		if ctx.Err() != nil || (quiet && fetches.NumRecords() == 0) {
			return nil
		}
		if errs := fetches.Errors(); len(errs) > 0 && !errors.Is(errs[0].Err, context.DeadlineExceeded) {
			return fmt.Errorf("consume %s partition %d: %w", errs[0].Topic, errs[0].Partition, errs[0].Err)
		}
		var decodeErr error
		fetches.EachRecord(func(r *kgo.Record) {
			if decodeErr != nil || (limit > 0 && printed >= limit) {
				return
			}
			if ends != nil && r.Offset >= ends[r.Partition] {
				return
			}
			if r.Attrs.IsControl() {
				if ends != nil && r.Offset >= ends[r.Partition]-1 {
					delete(ends, r.Partition)
				}
				return
			}
			kr := &serde.KafkaRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, serde.Header{Key: h.Key, Value: h.Value})
			}
			rec, err := dec.DecodeRecord(ctx, kr) // resolves claim-checked values
			if err != nil {
				decodeErr = fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			body, err := rec.JSON()
			if err != nil {
				decodeErr = err
				return
			}
			line, _ := json.Marshal(struct {
				Partition int32           `json:"partition"`
				Offset    int64           `json:"offset"`
				Timestamp time.Time       `json:"timestamp"`
				Claim     string          `json:"claimcheck,omitempty"`
				Record    json.RawMessage `json:"record"`
			}{r.Partition, r.Offset, r.Timestamp.UTC(), rec.ClaimCheck, body})
			out.Write(line)
			out.WriteByte('\n')
			printed++
			if ends != nil && r.Offset >= ends[r.Partition]-1 {
				delete(ends, r.Partition)
			}
		})
		if decodeErr != nil {
			return decodeErr
		}
		out.Flush()
		if (limit > 0 && printed >= limit) || (ends != nil && len(ends) == 0) {
			return nil
		}
	}
}
