package similar

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/media-gateway/discovery/cache/internal/canon"
)

const never = math.MaxInt64

func unit(t testing.TB, v ...float32) []float32 {
	t.Helper()
	u, err := Unit(v)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func randomUnit(t testing.TB, r *rand.Rand, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return unit(t, v...)
}

func TestUnit(t *testing.T) {
	u := unit(t, 3, 4)
	if math.Abs(float64(u[0])-0.6) > 1e-7 || math.Abs(float64(u[1])-0.8) > 1e-7 {
		t.Fatalf("Unit(3, 4) = %v", u)
	}
	for _, v := range [][]float32{nil, {}, {0, 0}, {1, float32(math.NaN())}, {float32(math.Inf(-1)), 1}} {
		if _, err := Unit(v); !errors.Is(err, ErrVector) {
			t.Errorf("Unit(%v) = %v, want an ErrVector", v, err)
		}
	}
}

func TestSearch(t *testing.T) {
	x := New(2, 10)
	x.Add("k1", "east", canon.Sign("east"), unit(t, 1, 0), never)
	x.Add("k2", "north-east", canon.Sign("north-east"), unit(t, 1, 1), never)
	x.Add("k3", "north", canon.Sign("north"), unit(t, 0, 1), never)
	x.Add("k4", "west", canon.Sign("west"), unit(t, -1, 0), never)
	if x.Add("k1", "again", canon.Sign("again"), unit(t, 0, 1), never) {
		t.Fatal("a second entry of one key was added")
	}
	got := x.Search(unit(t, 1, 0.1), 0.5, 3, 0)
	if len(got) != 2 || got[0].Key != "k1" || got[1].Key != "k2" || got[0].Text != "east" {
		t.Fatalf("Search = %+v, want east then north-east", got)
	}
	if want := 1 / math.Sqrt(1.01); math.Abs(got[0].Score-want) > 1e-6 {
		t.Fatalf("score %v, want %v", got[0].Score, want)
	}
	if !got[0].Sig.Admits(canon.Sign("EAST")) {
		t.Fatal("the candidate's signature is not its text's")
	}
	if got := x.Search(unit(t, 1, 0.1), 0.5, 1, 0); len(got) != 1 || got[0].Key != "k1" {
		t.Fatalf("Search k=1 = %+v", got)
	}
	if got := x.Search(unit(t, 1, 0.1), 0.9999, 3, 0); len(got) != 0 {
		t.Fatalf("Search above every score = %+v", got)
	}
	if got := x.Search(unit(t, 1, 0, 0), 0, 3, 0); got != nil {
		t.Fatalf("a vector of another dimension was searched: %+v", got)
	}
}

// The oldest entries leave first when the index is full; removed and
// expired ones are never found; the figures follow.
func TestBoundsAndRemovals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dims, max = 16, 100
	x := New(dims, max)
	vecs := map[string][]float32{}
	var model []string // what the index should hold, oldest first
	for i := range 250 {
		key := fmt.Sprint("k", i)
		vecs[key] = randomUnit(t, r, dims)
		x.Add(key, key, canon.Sign(key), vecs[key], int64(i))
		if model = append(model, key); len(model) > max {
			model = model[1:]
		}
		if i%7 == 0 {
			gone := fmt.Sprint("k", i-3)
			x.Remove(gone)
			model = slices.DeleteFunc(model, func(k string) bool { return k == gone })
		}
	}
	f := x.Figures()
	if f.Entries != len(model) || f.Evicted < 100 || f.Evicted > 150 {
		t.Fatalf("figures %+v after 250 adds into %d", f, max)
	}
	for i := range 250 {
		key := fmt.Sprint("k", i)
		if x.Has(key) != slices.Contains(model, key) {
			t.Fatalf("%s held: %v; the oldest leave first", key, x.Has(key))
		}
		got := x.Search(vecs[key], 0.999, 1, 0)
		found := len(got) == 1 && got[0].Key == key
		if found != x.Has(key) {
			t.Fatalf("%s: found %v, held %v", key, found, x.Has(key))
		}
	}
	var sum int64
	x.mu.RLock()
	for _, e := range x.ents {
		sum += 4 * dims // a dead entry's vector until compaction
		if !e.dead {
			sum += e.size
		}
	}
	x.mu.RUnlock()
	if sum != f.Bytes || f.Bytes <= int64(f.Entries*dims*4) {
		t.Fatalf("bytes %d, entries' sizes %d", f.Bytes, sum)
	}
	// An entry of a key held is replaced when it lives longer: the text
	// was cached again.
	last := model[len(model)-1]
	if x.Add(last, "older", canon.Sign("older"), vecs[last], 0) {
		t.Fatal("an entry living shorter replaced one of its key")
	}
	if !x.Add(last, "renewed", canon.Sign("renewed"), vecs[last], 1000) {
		t.Fatal("an entry living longer did not replace one of its key")
	}
	if exp, ok := x.Expiry(last); !ok || exp != 1000 {
		t.Fatalf("Expiry = %d, %v", exp, ok)
	}
	if got := x.Search(vecs[last], 0.999, 1, 999); len(got) != 1 || got[0].Text != "renewed" {
		t.Fatalf("the renewed entry: %+v", got)
	}
	x.Expire(200)
	for i := range 250 {
		if key := fmt.Sprint("k", i); x.Has(key) && i <= 200 {
			t.Fatalf("%s expired at %d is held", key, i)
		}
	}
	if len(x.Search(vecs["k230"], 0.999, 1, 231)) != 0 {
		t.Fatal("an expired entry was found")
	}
	if x.Figures().Expired == 0 {
		t.Fatal("no expiry counted")
	}
}

// Searches, adds and removals at once (run with -race); every candidate
// found is one of the index's entries, with its own text.
func TestConcurrent(t *testing.T) {
	const dims = 8
	x := New(dims, 300)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 2000 {
				key := fmt.Sprint(g, "/", i)
				switch i % 3 {
				case 0, 1:
					x.Add(key, "t"+key, canon.Sign("t"+key), randomUnit(t, r, dims), never)
				default:
					x.Remove(fmt.Sprint(g, "/", i-2))
				}
				for _, c := range x.Search(randomUnit(t, r, dims), 0.5, 3, 0) {
					if c.Text != "t"+c.Key {
						t.Errorf("candidate %q has text %q", c.Key, c.Text)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := x.Figures().Entries; n == 0 || n > 300 {
		t.Fatalf("%d entries", n)
	}
}

func BenchmarkSearch(b *testing.B) {
	for _, c := range []struct{ n, dims int }{{1000, 384}, {10000, 384}, {10000, 768}, {50000, 384}} {
		b.Run(fmt.Sprintf("%d×%d", c.n, c.dims), func(b *testing.B) {
			r := rand.New(rand.NewPCG(3, 4))
			x := New(c.dims, c.n)
			for i := range c.n {
				x.Add(fmt.Sprint(i), "", canon.Signature{}, randomUnit(b, r, c.dims), never)
			}
			q := randomUnit(b, r, c.dims)
			b.ReportMetric(float64(x.Figures().Bytes)/float64(c.n), "bytes/entry")
			b.ResetTimer()
			for b.Loop() {
				x.Search(q, 0.9, 4, 0)
			}
		})
	}
}
