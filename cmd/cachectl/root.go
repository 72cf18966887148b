package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/media-gateway/discovery/cache"
)

// app holds what every command shares: the connection flags, the output
// format and the streams.
type app struct {
	url, namespace, master string
	cluster, sentinels     []string
	timeout                time.Duration
	asJSON                 bool
	printedJSON            bool // a command printed its JSON result (a failure then adds none)

	stdin          io.Reader
	stdout, stderr io.Writer
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "cachectl: %v\n", err)
	if a.asJSON && !a.printedJSON { // scripts read the failure on stdout too
		a.printJSON(map[string]any{"ok": false, "error": err.Error()})
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown ") || strings.Contains(err.Error(), "flag") || strings.Contains(err.Error(), "arg(s)") {
		return 2 // cobra's own usage errors
	}
	return 1
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "cachectl",
		Short: "Look into and operate the discovery cache in Redis",
		Long: `cachectl looks into and operates the discovery cache in Redis.

It connects as the library does: REDIS_URL, REDIS_CLUSTER_ADDRS, REDIS_SENTINEL_*,
CACHE_NAMESPACE and the other variables of cache.ConfigFromEnv; the flags below
override them. Output is a table, or JSON with --json.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&a.url, "url", "", "Redis URL (default $REDIS_URL, else redis://127.0.0.1:6379/0)")
	f.StringSliceVar(&a.cluster, "cluster", nil, "Redis Cluster seed addresses, host:port,… (default $REDIS_CLUSTER_ADDRS)")
	f.StringSliceVar(&a.sentinels, "sentinel", nil, "Sentinel addresses, host:port,… (default $REDIS_SENTINEL_ADDRS)")
	f.StringVar(&a.master, "sentinel-master", "", "the master set the sentinels watch (default $REDIS_SENTINEL_MASTER)")
	f.StringVar(&a.namespace, "namespace", "", "the cache's key namespace (default $CACHE_NAMESPACE, else discovery)")
	f.DurationVar(&a.timeout, "timeout", 0, "bound of the whole command (default: none for clear and warm, 30s otherwise)")
	f.BoolVar(&a.asJSON, "json", false, "print JSON instead of tables")
	root.AddCommand(a.healthCmd(), a.statsCmd(), a.inspectCmd(), a.clearCmd(), a.warmCmd(), a.benchCmd(), a.versionCmd())
	return root
}

// connect bounds the command's context (see context) and opens the cache
// on it; done closes the cache and releases the context.
func (a *app) connect(cmd *cobra.Command, bound time.Duration, edit ...func(*cache.Config)) (context.Context, *cache.RedisCache, func(), error) {
	ctx, cancel := a.context(cmd, bound)
	c, err := a.open(ctx, edit...)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, c, func() { c.Close(); cancel() }, nil
}

// open connects to Redis as configured; the cache must be closed.
func (a *app) open(ctx context.Context, edit ...func(*cache.Config)) (*cache.RedisCache, error) {
	cfg, err := cache.ConfigFromEnv()
	if err != nil {
		return nil, usage("%v", err)
	}
	if a.url != "" {
		cfg.URL = a.url
	}
	if len(a.cluster) > 0 {
		cfg.ClusterAddrs = a.cluster
	}
	if len(a.sentinels) > 0 {
		cfg.Sentinel.Addrs = a.sentinels
	}
	if a.master != "" {
		cfg.Sentinel.MasterSet = a.master
	}
	if a.namespace != "" {
		cfg.Namespace = a.namespace
	}
	cfg.RequireConnection = true // a tool reports an outage instead of working around it
	cfg.NearCacheBytes = -1      // one-shot reads: a near cache would only cost
	for _, e := range edit {
		e(&cfg)
	}
	c, err := cache.New(ctx, cfg)
	err = cliHint(err)
	if errors.Is(err, cache.ErrInvalidConfig) {
		return nil, usage("%v", err)
	}
	return c, err
}

// cliHints put the library's hints in this command's terms: flags beside
// the environment, not Config's fields.
var cliHints = strings.NewReplacer(
	"is Redis running there? set Config.URL or REDIS_URL", "is Redis running there, and is --url (or REDIS_URL) right?",
	", and the sentinels' in Config.Sentinel", ", and the sentinels' in REDIS_SENTINEL_USERNAME and REDIS_SENTINEL_PASSWORD",
	"in the URL", "in --url or REDIS_URL",
	"Config.ClusterAddrs", "--cluster (REDIS_CLUSTER_ADDRS)",
	"Config.Sentinel (Addrs and MasterSet)", "--sentinel and --sentinel-master",
	"Config.Sentinel", "--sentinel and --sentinel-master",
	"Config.URL", "--url",
	"set Config.TLSConfig", "point SSL_CERT_FILE at its certificate",
)

// cliHint returns err, a failure of cache.New, with its hint in this
// command's terms (see cliHints); a failure to reach Redis that came with
// no hint gets the command's own.
func cliHint(err error) error {
	var ce *cache.Error
	if !errors.As(err, &ce) {
		return err
	}
	e := *ce
	switch {
	case e.Hint != "":
		e.Hint = cliHints.Replace(e.Hint)
	case errors.Is(err, cache.ErrUnavailable):
		e.Hint = noHint
	default:
		return err
	}
	return &e
}

// noHint is the hint of a failure to reach Redis that came with none.
const noHint = "is Redis running and reachable from here, and are --url (or REDIS_URL), --cluster or --sentinel right?"

// context returns the command's context: bounded by --timeout, or by def
// when it is not given (0: no bound).
func (a *app) context(cmd *cobra.Command, def time.Duration) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	d := a.timeout
	if d == 0 {
		d = def
	}
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// with returns v's JSON object with the fields of extra added: one flat
// object for a report and its command's own fields.
func with(v any, extra map[string]any) map[string]any {
	out := map[string]any{}
	if b, err := json.Marshal(v); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()      // a cached value's integers stay exact
		_ = dec.Decode(&out) // v is a struct: its JSON is an object
	}
	for k, e := range extra {
		out[k] = e
	}
	return out
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	a.printedJSON = true
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows of cells, aligned in columns.
func (a *app) table(rows [][]string) {
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

// terminal reports whether w is a terminal (where progress bars go).
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ms formats a duration for tables.
func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}
