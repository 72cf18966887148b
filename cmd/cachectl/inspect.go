package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/media-gateway/discovery/cache"
)

func (a *app) inspectCmd() *cobra.Command {
	var model, parser string
	var jsonInput, full, canonical bool
	cmd := &cobra.Command{
		Use:   "inspect (search|intent|embedding) INPUT | inspect key REDIS-KEY",
		Short: "Show what is stored for a query, a text or a raw key: TTL, size, codec, compression, written-at, the value",
		Long: `inspect derives the key of an input as the library does and shows what is stored
under it: the key, its kind, the time left to live, the size, the codec, whether it
is compressed, when it was written, and the value decoded without its type. A key
that holds nothing exits with status 1.

  cachectl inspect search "the last empire"           a search query (a string)
  cachectl inspect search --json-input '{"q":"x"}'    a query given as its JSON
  cachectl inspect intent "play the last empire"      add --parser for a parser version
  cachectl inspect embedding --model M "a text"
  cachectl inspect key discovery:search:3f5a…         a Redis key as it is
  cachectl inspect search --canonical "90s comedies"  a kind with Policy.CanonicalKeys:
                                                      the text's canonical form, and its key`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if canonical && (args[0] == "key" || args[0] == cache.KindEmbedding || jsonInput) {
				return usage("--canonical is for the text of a search or an intent (embeddings and raw keys have none)")
			}
			ctx, c, done, err := a.connect(cmd, 30*time.Second, func(cfg *cache.Config) { cfg.Policy.CanonicalKeys = canonical })
			if err != nil {
				return err
			}
			defer done()
			key, err := inputKey(c, args[0], args[1], model, parser, jsonInput)
			if err != nil {
				return err
			}
			form := ""
			if canonical {
				form = cache.CanonicalForm(args[1])
			}
			in, err := c.Inspect(ctx, key)
			if err != nil {
				return err
			}
			missing := &exitError{code: 1, err: fmt.Errorf("nothing is cached under %s", key)} // status 1, as kubectl get of a missing object
			if a.asJSON {
				extra := map[string]any{"ok": in.Exists}
				if canonical {
					extra["canonical_form"], extra["canonical_version"] = form, cache.CanonicalVersion
				}
				if err := a.printJSON(with(in, extra)); err != nil || in.Exists {
					return err
				}
				return missing
			}
			head := [][]string{{"key", key}, {"kind", in.Kind}}
			if canonical {
				head = append(head, []string{"canonical form", fmt.Sprintf("%s (rules v%d)", form, cache.CanonicalVersion)})
			}
			if !in.Exists {
				a.table(append(head, []string{"exists", "no: nothing is cached for it"}))
				return missing
			}
			ttl := "no expiry"
			if in.TTL >= 0 {
				ttl = in.TTL.Round(time.Second).String()
			}
			rows := append(head, [][]string{{"exists", "yes"}, {"ttl", ttl}, {"size", fmt.Sprintf("%d bytes", in.Size)}}...)
			switch {
			case in.Lease:
				rows = append(rows, []string{"holds", "a lease or refresh claim: a process is loading this value"})
			case in.Plain:
				rows = append(rows, []string{"holds", "plain JSON without this cache's envelope: the original service's format (Config.Legacy reads it), or another writer's"})
			case in.Codec == "":
				rows = append(rows, []string{"holds", "bytes not written by this cache"})
			default:
				rows = append(rows, []string{"codec", in.Codec}, []string{"compressed", strconv.FormatBool(in.Compressed)},
					[]string{"written at", fmt.Sprintf("%s (%s ago)", in.WrittenAt.UTC().Format(time.RFC3339), time.Since(in.WrittenAt).Round(time.Second))},
					[]string{"payload", fmt.Sprintf("%d bytes", in.Payload)})
			}
			if in.DecodeError != "" {
				rows = append(rows, []string{"decode error", in.DecodeError})
			}
			a.table(rows)
			if in.Value != nil {
				v := in.Value
				if vec, ok := v.([]float32); ok && len(vec) > 8 && !full {
					v = map[string]any{"dimensions": len(vec), "first": vec[:8], "note": "--full shows every value"}
				}
				out, err := json.MarshalIndent(v, "", "  ")
				if err != nil { // a NaN or an infinity, which JSON cannot hold
					out = []byte(fmt.Sprintf("%v\n(printed with Go's %%v: %v)", v, err))
				}
				fmt.Fprintf(a.stdout, "\nvalue:\n%s\n", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "the embedding model (inspect embedding)")
	cmd.Flags().StringVar(&parser, "parser", "", "the intent parser version, if the service gives one (inspect intent)")
	cmd.Flags().BoolVar(&jsonInput, "json-input", false, "INPUT is the query's JSON, as the service's query type encodes")
	cmd.Flags().BoolVar(&full, "full", false, "show every value of an embedding")
	cmd.Flags().BoolVar(&canonical, "canonical", false, "the kind keys texts by their canonical form (Policy.CanonicalKeys): show it, and look under its key")
	return cmd
}

// inputKey derives the Redis key of input for kind, as the library does.
func inputKey(c *cache.RedisCache, kind, input, model, parser string, jsonInput bool) (string, error) {
	switch kind {
	case "key":
		return input, nil
	case cache.KindSearch:
		if !jsonInput {
			return cache.Search[string, any](c).Key(input)
		}
		if !json.Valid([]byte(input)) {
			return "", usage("--json-input: %q is not JSON", input)
		}
		return cache.Search[json.RawMessage, any](c).Key(json.RawMessage(input))
	case cache.KindIntent:
		return cache.Intents[any](c, parser).Key(input)
	case cache.KindEmbedding:
		if model == "" {
			return "", usage("inspect embedding needs --model: each model's vectors have keys of their own")
		}
		kd, err := cache.Embeddings(c, model)
		if err != nil {
			return "", usage("%v", err)
		}
		return kd.Key(input)
	}
	return "", usage("unknown kind %q: use search, intent, embedding, or key with a Redis key", kind)
}
