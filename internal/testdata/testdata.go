// Package testdata makes realistic values for tests and benchmarks: search
// hits whose titles vary like real ones, so that compression sees realistic
// text, and vectors shaped like a model's output. Every function is
// deterministic.
package testdata

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Hit is one search result.
type Hit struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Score float64  `json:"score"`
	Tags  []string `json:"tags"`
}

var words = strings.Fields("the a of night star return last empire dark city love war lost house " +
	"king river girl man secret blood road ghost summer island fire stranger heart silent wild")

// Hits returns n search results with 2–5 word titles, ids, scores and two
// tags: 20 of them are about 2 KB of JSON.
func Hits(n int) []Hit {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string { return words[rng.IntN(len(words))] }
	hits := make([]Hit, n)
	for i := range hits {
		title := make([]string, 2+rng.IntN(4))
		for j := range title {
			title[j] = word()
		}
		hits[i] = Hit{ID: fmt.Sprintf("tt%07d", rng.IntN(9999999)), Title: strings.Join(title, " "),
			Score: rng.Float64(), Tags: []string{word(), word()}}
	}
	return hits
}

// Vector returns dims normally distributed values of scale 0.05, with full
// mantissas, like an embedding model's output; no compressor shrinks it much.
func Vector(dims int) []float32 {
	rng := rand.New(rand.NewPCG(3, 4))
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.05)
	}
	return v
}
