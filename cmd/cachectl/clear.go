package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/media-gateway/discovery/cache"
)

func (a *app) clearCmd() *cobra.Command {
	var all, dryRun, yes bool
	cmd := &cobra.Command{
		Use:   "clear (KIND | --all) [--dry-run]",
		Short: "Remove every value of a kind, or of the whole namespace; --dry-run counts them",
		Long: `clear removes every value of a kind (search, intent, embedding, custom, or a kind of
your own) or, with --all, every key of the namespace, and nothing outside it. Keys
are found with SCAN and removed with UNLINK in batches of about 1000: Redis is
never blocked. --dry-run counts what would go and removes nothing.

Removing asks first: on a terminal, clear says how many keys it would remove and
waits for "yes"; without a terminal (a script, a pipe), it refuses unless --yes is
given. A kind of the service's own (not search, intent, embedding or custom) with
no key in the namespace is an error (status 1) that lists the kinds that have keys:
a typo, or the wrong --namespace.

On a terminal, a progress bar shows the rate and the time left; otherwise one line
is printed per 10,000 keys. On a Redis Cluster with a primary down, the others are
cleared and the command fails naming the one it could not clear: run it again once
the cluster has promoted its replica.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := cache.ClearOptions{All: all, DryRun: dryRun}
			switch {
			case all && len(args) == 1:
				return usage("clear takes a kind or --all, not both")
			case !all && len(args) == 0:
				return usage("clear needs a kind (search, intent, embedding, …) or --all")
			case !all:
				o.Kind = args[0]
			}
			what := "kind " + o.Kind
			if all {
				what = "every kind"
			}
			ctx, c, done, err := a.connect(cmd, 0)
			if err != nil {
				return err
			}
			defer done()
			start := time.Now()
			// Count first: the total of the progress bar, and the dry run.
			total, err := c.Clear(ctx, cache.ClearOptions{Kind: o.Kind, All: o.All, DryRun: true})
			if err != nil {
				return err
			}
			if total == 0 && !all && !builtIn(o.Kind) {
				return a.noSuchKind(ctx, c, o.Kind) // a typo, or the wrong namespace: say so
			}
			if !dryRun && total > 0 && !yes {
				if err := a.confirm(fmt.Sprintf("remove %d keys of %s in namespace %s", total, what, c.Namespace())); err != nil {
					return err
				}
			}
			n := total
			if !dryRun && total > 0 {
				var finish func(int64)
				o.Progress, finish = a.progress(total, "clearing "+what, "keys")
				n, err = c.Clear(ctx, o)
				finish(n) // the count can differ from the first: keys expire, others are written
				if err != nil {
					if a.asJSON {
						a.printJSON(map[string]any{"ok": false, "namespace": c.Namespace(), "kind": o.Kind, "all": all, "removed": n, "error": err.Error()})
					}
					return fmt.Errorf("%w (%d keys removed before)", err, n)
				}
			}
			if a.asJSON {
				out := map[string]any{"ok": true, "namespace": c.Namespace(), "kind": o.Kind, "all": all, "dry_run": dryRun, "took_seconds": time.Since(start).Seconds()}
				if dryRun {
					out["would_remove"] = n
				} else {
					out["removed"] = n
				}
				return a.printJSON(out)
			}
			if dryRun {
				fmt.Fprintf(a.stdout, "would remove %d keys of %s in namespace %s (dry run: nothing removed)\n", n, what, c.Namespace())
			} else {
				fmt.Fprintf(a.stdout, "removed %d keys of %s in namespace %s in %v\n", n, what, c.Namespace(), time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "clear every key of the namespace")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count the keys that would be removed; remove nothing")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "remove without asking (needed without a terminal)")
	return cmd
}

// confirm asks on the terminal whether to do what, and returns nil only
// for "yes"; without a terminal to ask on, it refuses (status 2), saying
// to give --yes.
func (a *app) confirm(what string) error {
	in, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) || !terminal(a.stderr) {
		return usage("this would %s; nothing is asked without a terminal: add --yes to go ahead (or --dry-run to count)", what)
	}
	fmt.Fprintf(a.stderr, "This will %s. Type yes to go ahead: ", what)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	if strings.TrimSpace(answer) != "yes" {
		return &exitError{code: 1, err: errors.New("not confirmed: nothing removed")}
	}
	return nil
}

// builtIn reports whether kind is one of the library's own kinds, which
// exist whether or not they hold keys.
func builtIn(kind string) bool {
	switch kind {
	case cache.KindSearch, cache.KindIntent, cache.KindEmbedding, cache.KindCustom:
		return true
	}
	return false
}

// noSuchKind is the error of a clear of kind, which has no key in c's
// namespace: it lists the kinds that have some.
func (a *app) noSuchKind(ctx context.Context, c *cache.RedisCache, kind string) error {
	st, err := c.ServerStats(ctx)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("kind %q has no key in namespace %s", kind, c.Namespace())}
	}
	var have []string
	for k, n := range st.Keys {
		have = append(have, fmt.Sprintf("%s (%d)", k, n))
	}
	sort.Strings(have)
	list := "none: the namespace is empty (is --namespace right?)"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	return &exitError{code: 1, err: fmt.Errorf("kind %q has no key in namespace %s; kinds with keys: %s", kind, c.Namespace(), list)}
}

// progress returns a report function for total items: a progress bar with
// rate (in units a second) and time left on a terminal (stderr), or a plain
// line every 10,000 items otherwise; and finish, to call with the final
// count, which ends the bar or prints the last line. With --json, neither
// reports anything.
func (a *app) progress(total int64, what, unit string) (report func(done int64), finish func(done int64)) {
	if a.asJSON {
		return nil, func(int64) {}
	}
	if terminal(a.stderr) {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true), // now: the rate is counted from here, not from the first count
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(a.stderr) }),
		)
		return func(done int64) { bar.Set64(min(done, total)) }, func(done int64) {
			if done != total {
				bar.ChangeMax64(max(done, 1))
			}
			bar.Set64(done)
			bar.Finish()
		}
	}
	var last int64
	return func(done int64) {
			if done-last >= 10000 {
				fmt.Fprintf(a.stderr, "%s: %d of %d\n", what, done, total)
				last = done
			}
		}, func(done int64) {
			fmt.Fprintf(a.stderr, "%s: %d of %d, done\n", what, done, total)
		}
}
