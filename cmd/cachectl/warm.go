package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/media-gateway/discovery/cache"
)

func (a *app) warmCmd() *cobra.Command {
	var input, loaderCmd, loaderURL, model, parser string
	var concurrency int
	var force bool
	cmd := &cobra.Command{
		Use:   "warm KIND --input FILE (--loader-cmd CMD | --loader-url URL)",
		Short: "Preload a kind's values for the inputs of a JSON-lines file, through a loader command or an HTTP endpoint",
		Long: `warm reads one input per line of a JSON-lines file ("-" for stdin): a search query as
the service's query type encodes it (for a string query, a JSON string), an intent's
or an embedding's text as a JSON string. Inputs already cached are left as they are
(--force reloads them); the others are loaded, --concurrency at a time, and stored as
the service would store them:

  --loader-cmd CMD   runs "sh -c CMD" once per input, the input's JSON on its stdin;
                     its stdout is the value's JSON
  --loader-url URL   POSTs the input's JSON to URL; a 200 reply's body is the value's JSON

On a terminal, a progress bar shows the rate and the time left. The command fails
(status 1) when an input could not be loaded or stored, after warming the others.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (loaderCmd == "") == (loaderURL == "") {
				return usage("warm needs one loader: --loader-cmd or --loader-url")
			}
			if input == "" {
				return usage("warm needs --input FILE (JSON lines; - for stdin)")
			}
			lines, err := a.readLines(input)
			if err != nil {
				return err
			}
			ctx, c, done, err := a.connect(cmd, 0)
			if err != nil {
				return err
			}
			defer done()
			load := func(ctx context.Context, in json.RawMessage) ([]byte, error) {
				if loaderCmd != "" {
					return runLoaderCmd(ctx, loaderCmd, in)
				}
				return postLoader(ctx, loaderURL, in)
			}
			bar, finish := a.progress(int64(len(lines)), "warming "+args[0], "inputs")
			o := cache.WarmOptions{Concurrency: concurrency, Force: force}
			if bar != nil {
				o.Progress = func(s cache.WarmSummary) { bar(int64(s.Done)) }
			}
			sum, err := warmKind(ctx, c, args[0], model, parser, lines, load, o)
			finish(int64(sum.Done))
			if err != nil {
				return err
			}
			if a.asJSON {
				if err := a.printJSON(with(sum, map[string]any{"ok": sum.Failed == 0, "kind": args[0]})); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "warmed %s: %d inputs, %d already cached, %d loaded, %d failed, in %v\n",
					args[0], sum.Inputs, sum.Cached, sum.Loaded, sum.Failed, sum.Took.Round(time.Millisecond))
			}
			if sum.Failed > 0 {
				return fmt.Errorf("%d of %d inputs failed; the first: %v", sum.Failed, sum.Inputs, sum.FirstError)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "JSON-lines file of inputs, one per line (- for stdin)")
	f.StringVar(&loaderCmd, "loader-cmd", "", "shell command that loads one value: input JSON on stdin, value JSON on stdout")
	f.StringVar(&loaderURL, "loader-url", "", "HTTP endpoint that loads one value: input JSON POSTed, value JSON in the reply")
	f.StringVar(&model, "model", "", "the embedding model (warm embedding)")
	f.StringVar(&parser, "parser", "", "the intent parser version, if the service gives one (warm intent)")
	f.IntVar(&concurrency, "concurrency", 8, "loads at once")
	f.BoolVar(&force, "force", false, "reload inputs that are cached")
	return cmd
}

// readLines reads the non-empty lines of path (stdin for "-"), each
// checked to be JSON.
func (a *app) readLines(path string) ([]json.RawMessage, error) {
	var r io.Reader = a.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usage("%v", err)
		}
		defer f.Close()
		r = f
	}
	var out []json.RawMessage
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, usage("%s:%d is not JSON: %.60q (one input per line: a query's JSON, or a text as a JSON string)", path, n, line)
		}
		out = append(out, append(json.RawMessage(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

// warmKind warms kind with lines as inputs, each loaded by load.
func warmKind(ctx context.Context, c *cache.RedisCache, kind, model, parser string, lines []json.RawMessage,
	load func(context.Context, json.RawMessage) ([]byte, error), o cache.WarmOptions) (cache.WarmSummary, error) {
	anyValue := func(ctx context.Context, in json.RawMessage) (any, error) {
		raw, err := load(ctx, in)
		if err != nil {
			return nil, err
		}
		// Numbers stay as written (json.Number): a 64-bit id must not
		// become a float64 on its way to the cache.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("the loader's output for %s is not JSON: %w", in, err)
		}
		return v, nil
	}
	texts := func() ([]string, error) {
		out := make([]string, len(lines))
		for i, l := range lines {
			if err := json.Unmarshal(l, &out[i]); err != nil {
				return nil, usage("input %s is not a JSON string: %s inputs are texts", l, kind)
			}
		}
		return out, nil
	}
	quoted := func(s string) json.RawMessage { // as given: <, > and & unescaped
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	switch kind {
	case cache.KindSearch:
		// A string query has the key of the service's string query; any
		// other JSON, that of a query type encoding to it.
		var strs []string
		var others []json.RawMessage
		for _, l := range lines {
			var s string
			if json.Unmarshal(l, &s) == nil {
				strs = append(strs, s)
			} else {
				others = append(others, l)
			}
		}
		sum, err := cache.Search[string, any](c).Warm(ctx, strs, func(ctx context.Context, s string) (any, error) { return anyValue(ctx, quoted(s)) }, o)
		if err != nil || len(others) == 0 {
			return sum, err
		}
		if progress := o.Progress; progress != nil { // the second call's figures follow the first's
			o.Progress = func(s cache.WarmSummary) { s.Done += sum.Done; progress(s) }
		}
		more, err := cache.Search[json.RawMessage, any](c).Warm(ctx, others, anyValue, o)
		sum.Inputs, sum.Done, sum.Cached, sum.Loaded, sum.Failed = sum.Inputs+more.Inputs, sum.Done+more.Done, sum.Cached+more.Cached, sum.Loaded+more.Loaded, sum.Failed+more.Failed
		sum.Took += more.Took
		if sum.FirstError == nil {
			sum.FirstError = more.FirstError
		}
		return sum, err
	case cache.KindIntent:
		ins, err := texts()
		if err != nil {
			return cache.WarmSummary{}, err
		}
		return cache.Intents[any](c, parser).Warm(ctx, ins, func(ctx context.Context, s string) (any, error) { return anyValue(ctx, quoted(s)) }, o)
	case cache.KindEmbedding:
		if model == "" {
			return cache.WarmSummary{}, usage("warm embedding needs --model: each model's vectors have keys of their own")
		}
		ins, err := texts()
		if err != nil {
			return cache.WarmSummary{}, err
		}
		kd, err := cache.Embeddings(c, model)
		if err != nil {
			return cache.WarmSummary{}, usage("%v", err)
		}
		return kd.Warm(ctx, ins, func(ctx context.Context, s string) ([]float32, error) {
			raw, err := load(ctx, quoted(s))
			if err != nil {
				return nil, err
			}
			var v []float32
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("the loader's output for %q is not a JSON array of numbers: %w", s, err)
			}
			return v, nil
		}, o)
	}
	return cache.WarmSummary{}, usage("warm: unknown kind %q; use search, intent or embedding", kind)
}

// runLoaderCmd runs "sh -c command" with in on its stdin and returns its
// stdout; a failure carries the end of its stderr.
func runLoaderCmd(ctx context.Context, command string, in json.RawMessage) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdin = bytes.NewReader(append(in, '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 200 {
			msg = msg[len(msg)-200:]
		}
		return nil, fmt.Errorf("loader command for %s: %w: %s", in, err, msg)
	}
	return out, nil
}

// postLoader POSTs in to url and returns a 200 reply's body.
func postLoader(ctx context.Context, url string, in json.RawMessage) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("loader endpoint answered " + resp.Status + " for " + string(in))
	}
	return body, nil
}
