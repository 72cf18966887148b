// Command meaning reports, on a labelled set of pairs of media queries, how
// often canonical keys (cache.CanonicalForm) merge the pairs that ask for
// the same thing (hits gained over exact keys) and the pairs that differ
// in one thing (false hits, with a 95% interval), by kind of change; and,
// for the near match, what a rule without guards does (RedisVL's
// SemanticCache: similarity ≥ 0.9) on the same pairs with the vectors
// given, or, with none, on worst-case vectors: one vector for both queries
// of every pair (cosine 1).
//
//	go -C benchmarks run ./cmd/meaning                      # testdata/meaning-pairs.tsv
//	go -C benchmarks run ./cmd/meaning -pairs my-pairs.tsv -vectors my-vectors.tsv
//	go -C benchmarks run ./cmd/meaning -redis redis://127.0.0.1:6379/0   # FetchSimilar itself too
//
// With -redis, every pair also goes through cache.FetchSimilar against
// that server (near match serving, worst-case vectors: one vector for
// both queries of a pair), in a namespace of its own removed afterwards:
// the first query loads, and the report counts the second ones served
// from their neighbour.
//
// The pairs file has one pair a line, tab-separated: label (same or
// differ), the change (a word for the breakdown), query a, query b; lines
// starting with # are comments. The vectors file, if given, has one text
// a line: the text, a tab, and its vector's components separated by
// commas or spaces (all of one model).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/media-gateway/discovery/cache"
)

// pair is one labelled pair of queries.
type pair struct {
	same   bool
	change string
	a, b   string
}

func main() {
	pairsPath := flag.String("pairs", "testdata/meaning-pairs.tsv", "the labelled pairs")
	vectorsPath := flag.String("vectors", "", "vectors of the queries' texts, if you have a model's (text<TAB>v1,v2,…)")
	redisURL := flag.String("redis", "", "a Redis server's URL: also run every pair through FetchSimilar there")
	flag.Parse()
	pairs, err := readPairs(*pairsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meaning:", err)
		os.Exit(1)
	}
	var vectors map[string][]float64
	if *vectorsPath != "" {
		if vectors, err = readVectors(*vectorsPath); err != nil {
			fmt.Fprintln(os.Stderr, "meaning:", err)
			os.Exit(1)
		}
	}
	if err := report(os.Stdout, pairs, vectors); err != nil {
		fmt.Fprintln(os.Stderr, "meaning:", err)
		os.Exit(1)
	}
	if *redisURL != "" {
		if err := endToEnd(context.Background(), os.Stdout, *redisURL, pairs); err != nil {
			fmt.Fprintln(os.Stderr, "meaning:", err)
			os.Exit(1)
		}
	}
}

// endToEnd runs every pair through cache.FetchSimilar against the server
// at url, serving, with one vector for both queries of a pair (a vector
// and a kind of its own for each pair, so that pairs never meet), and reports the
// second queries served from their neighbour.
func endToEnd(ctx context.Context, w io.Writer, url string, pairs []pair) error {
	var ns [6]byte
	rand.Read(ns[:])
	c, err := cache.New(ctx, cache.Config{URL: url, Namespace: "meaning-" + hex.EncodeToString(ns[:]),
		Policy: cache.Policy{NearMatch: cache.NearMatch{Mode: cache.NearMatchServe, Model: "worst-case"}}})
	if err != nil {
		return err
	}
	defer c.Close()
	defer c.ClearAll(context.WithoutCancel(ctx)) //nolint:errcheck // a report's namespace; its keys expire
	var e2e served
	for i, p := range pairs {
		kd, err := cache.NewKind[string, string](c, fmt.Sprintf("pair%d", i), time.Hour) // texts recur across pairs
		if err != nil {
			return err
		}
		vec := make([]float32, 64)
		for j := range vec {
			vec[j] = float32(math.Sin(float64(i*64+j) * 12.9898)) // a direction of the pair's own
		}
		value := func(v string) cache.LoaderFunc[string] {
			return func(context.Context) (string, error) { return v, nil }
		}
		if _, _, err := cache.FetchSimilar(ctx, kd, p.a, vec, value(p.a)); err != nil {
			return err
		}
		got, m, err := cache.FetchSimilar(ctx, kd, p.b, vec, value(p.b))
		if err != nil {
			return err
		}
		e2e.add(p, m.Kind == cache.MatchNeighbour || m.Kind == cache.MatchExact && got == p.a)
	}
	for name, st := range c.Stats().Kinds {
		if st.Errors > 0 || st.NearMatch.Errors > 0 {
			return fmt.Errorf("kind %s: %d errors, %d near-match errors against %s", name, st.Errors, st.NearMatch.Errors, c.Endpoint())
		}
	}
	fmt.Fprintf(w, "\nFetchSimilar end to end (%s, serving, worst-case vectors)\n", c.Endpoint())
	e2e.write(w)
	return nil
}

func readPairs(path string) ([]pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []pair
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 4 || fields[0] != "same" && fields[0] != "differ" {
			return nil, fmt.Errorf("%s:%d: want same|differ, the change, query a, query b, tab-separated", path, n)
		}
		out = append(out, pair{same: fields[0] == "same", change: fields[1], a: fields[2], b: fields[3]})
	}
	return out, sc.Err()
}

func readVectors(path string) (map[string][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		text, vec, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want the text, a tab, the vector", path, n)
		}
		var v []float64
		for _, s := range strings.FieldsFunc(vec, func(r rune) bool { return r == ',' || r == ' ' }) {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, n, err)
			}
			v = append(v, x)
		}
		out[text] = v
	}
	return out, sc.Err()
}

// tally counts pairs of one label.
type tally struct{ n, merged int }

// served counts the pairs whose second query was served the first's
// value, by label, and keeps the pairs that differ among them.
type served struct {
	same, differ tally
	falseHits    []pair
}

func (s *served) add(p pair, hit bool) {
	t := &s.differ
	if p.same {
		t = &s.same
	}
	t.n++
	if hit {
		t.merged++
		if !p.same {
			s.falseHits = append(s.falseHits, p)
		}
	}
}

// write writes the figures of s.
func (s *served) write(w io.Writer) {
	lo, hi := wilson(s.same.merged, s.same.n)
	fmt.Fprintf(w, "  paraphrases served from their neighbour: %d of %d, %.1f%% (95%%: %.1f–%.1f%%)\n", s.same.merged, s.same.n, pct(s.same.merged, s.same.n), 100*lo, 100*hi)
	lo, hi = wilson(s.differ.merged, s.differ.n)
	fmt.Fprintf(w, "  false hits (pairs that differ, served):   %d of %d, %.1f%% (95%%: %.1f–%.1f%%)\n", s.differ.merged, s.differ.n, pct(s.differ.merged, s.differ.n), 100*lo, 100*hi)
	for _, p := range s.falseHits {
		fmt.Fprintf(w, "    false hit (%s): %q served for %q\n", p.change, p.a, p.b)
	}
}

// report writes the figures.
func report(w io.Writer, pairs []pair, vectors map[string][]float64) error {
	var same, differ tally
	byChange := map[string]*tally{}
	var falseMerges []pair
	for _, p := range pairs {
		merged := cache.CanonicalForm(p.a) == cache.CanonicalForm(p.b)
		t := &differ
		if p.same {
			t = &same
		}
		t.n++
		c := byChange[p.change]
		if c == nil {
			c = &tally{}
			byChange[p.change] = c
		}
		c.n++
		if merged {
			t.merged++
			c.merged++
			if !p.same {
				falseMerges = append(falseMerges, p)
			}
		}
	}
	fmt.Fprintf(w, "%d pairs: %d that ask for the same thing, %d that differ in one thing\n\n", len(pairs), same.n, differ.n)
	fmt.Fprintf(w, "canonical keys (rules v%d)\n", cache.CanonicalVersion)
	lo, hi := wilson(same.merged, same.n)
	fmt.Fprintf(w, "  paraphrases merged (hits gained over exact keys): %d of %d, %.1f%% (95%%: %.1f–%.1f%%)\n", same.merged, same.n, pct(same.merged, same.n), 100*lo, 100*hi)
	lo, hi = wilson(differ.merged, differ.n)
	fmt.Fprintf(w, "  false hits (pairs that differ, merged):          %d of %d, %.1f%% (95%%: %.1f–%.1f%%)\n", differ.merged, differ.n, pct(differ.merged, differ.n), 100*lo, 100*hi)
	for _, p := range falseMerges {
		fmt.Fprintf(w, "    false hit (%s): %q = %q\n", p.change, p.a, p.b)
	}
	fmt.Fprintln(w, "  by change:")
	changes := make([]string, 0, len(byChange))
	for c := range byChange {
		changes = append(changes, c)
	}
	sort.Strings(changes)
	for _, c := range changes {
		t := byChange[c]
		fmt.Fprintf(w, "    %-24s %3d of %3d merged\n", c, t.merged, t.n)
	}

	// The near match's guards on worst-case vectors: every pair's vectors
	// are one, so the score passes any threshold and only the guards
	// refuse.
	var guarded served
	refusals := map[string]int{}
	for _, p := range pairs {
		ok, reason := cache.NearMatchGuard(p.a, p.b)
		guarded.add(p, ok)
		if !ok {
			name, _, _ := strings.Cut(reason, " differ")
			name, _, _ = strings.Cut(name, " not in")
			refusals[name]++
		}
	}
	fmt.Fprintln(w, "\nnear match, guarded (cache.NearMatchGuard), on worst-case vectors (one vector for both")
	fmt.Fprintln(w, "queries of a pair, cosine 1: only the guards refuse)")
	guarded.write(w)
	names := make([]string, 0, len(refusals))
	for n := range refusals {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprint(w, "  refusals by guard:")
	for _, n := range names {
		fmt.Fprintf(w, " %s %d;", n, refusals[n])
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "\nRedisVL's rule (similarity ≥ 0.9, no guards)")
	if vectors == nil {
		fmt.Fprintln(w, "  on worst-case vectors (one vector for both queries of a pair, cosine 1: what a model that")
		fmt.Fprintln(w, "  cannot tell them apart gives):")
		fmt.Fprintf(w, "  paraphrases served: %d of %d; false hits: %d of %d, %.1f%%\n", same.n, same.n, differ.n, differ.n, 100.0)
		return nil
	}
	var s, d tally
	for _, p := range pairs {
		va, vb := vectors[p.a], vectors[p.b]
		if va == nil || vb == nil {
			return fmt.Errorf("no vector for %q or %q", p.a, p.b)
		}
		t := &d
		if p.same {
			t = &s
		}
		t.n++
		if cosine(va, vb) >= 0.9 {
			t.merged++
		}
	}
	lo, hi = wilson(d.merged, d.n)
	fmt.Fprintf(w, "  paraphrases served: %d of %d, %.1f%%; false hits: %d of %d, %.1f%% (95%%: %.1f–%.1f%%)\n",
		s.merged, s.n, pct(s.merged, s.n), d.merged, d.n, pct(d.merged, d.n), 100*lo, 100*hi)
	return nil
}

func pct(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(k) / float64(n)
}

// wilson returns the Wilson score interval of k successes in n at 95%.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

func cosine(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.NaN()
	}
	var dot, na, nb float64
	for i := range a {
		dot += a[i] * b[i]
		na += a[i] * a[i]
		nb += b[i] * b[i]
	}
	return dot / math.Sqrt(na*nb)
}
