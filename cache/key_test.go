package cache_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/media-gateway/discovery/cache"
)

// The key vectors are part of the stored format: other services compute
// the same keys. Changing one invalidates every cached value.
func TestGenerateKeyVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		data   any
		want   string
	}{
		{"search", "star wars", "search:68e51761ff1e643aa85a3d8220e7fe88a4dbcc6f15accaa6ffa8c2123e711068"},
		{"intent", `movies like <Alien> & "Aliens"`, "intent:bf140604f36e9149e6058bb601361bdd00c66082b47ca559bd49cd440432aab5"},
		{"embedding", struct {
			Model string `json:"model"`
			Text  string `json:"text"`
		}{"text-embedding-3-small", "a heist thriller set in Paris"},
			"embedding:fff4905c93703980a5fc3952e0b762b92b82dc0d3805fd981befd013d1cc2267"},
		// A map hashes like the struct with the same JSON: keys are sorted.
		{"embedding", map[string]string{"text": "a heist thriller set in Paris", "model": "text-embedding-3-small"},
			"embedding:fff4905c93703980a5fc3952e0b762b92b82dc0d3805fd981befd013d1cc2267"},
	}
	for _, tt := range tests {
		got, err := cache.GenerateKey(tt.prefix, tt.data)
		if err != nil {
			t.Fatalf("GenerateKey(%q, %#v): %v", tt.prefix, tt.data, err)
		}
		if got != tt.want {
			t.Errorf("GenerateKey(%q, %#v)\n got %s\nwant %s", tt.prefix, tt.data, got, tt.want)
		}
	}
}

func TestGenerateKeyDistinguishesInputs(t *testing.T) {
	t.Parallel()
	type query struct {
		Q     string   `json:"q"`
		Genre []string `json:"genre,omitempty"`
		Page  int      `json:"page"`
	}
	inputs := []any{
		"star wars", "Star Wars", "star wars ", "", nil, 0, "0", []string{"star wars"},
		query{Q: "star wars"}, query{Q: "star wars", Page: 1}, query{Q: "star wars", Genre: []string{"sci-fi"}},
	}
	seen := map[string]any{}
	for _, in := range inputs {
		k, err := cache.GenerateKey("search", in)
		if err != nil {
			t.Fatalf("GenerateKey(%#v): %v", in, err)
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("inputs %#v and %#v share key %s", prev, in, k)
		}
		seen[k] = in
		again, _ := cache.GenerateKey("search", in)
		if again != k {
			t.Errorf("GenerateKey(%#v) not deterministic: %s then %s", in, k, again)
		}
	}
	a, _ := cache.GenerateKey("search", "x")
	b, _ := cache.GenerateKey("intent", "x")
	if strings.TrimPrefix(a, "search:") != strings.TrimPrefix(b, "intent:") || a == b {
		t.Errorf("prefix should change only the prefix: %s vs %s", a, b)
	}
}

func TestGenerateKeyUnserialisable(t *testing.T) {
	t.Parallel()
	for _, in := range []any{make(chan int), func() {}, math.NaN(), map[bool]int{true: 1}} {
		k, err := cache.GenerateKey("search", in)
		if !errors.Is(err, cache.ErrKeyGeneration) {
			t.Errorf("GenerateKey(%T) = %q, %v; want ErrKeyGeneration", in, k, err)
		}
	}
}

func TestEscapePattern(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"*", `\*`},
		{"a?b", `a\?b`},
		{"[abc]", `\[abc\]`},
		{`back\slash`, `back\\slash`},
		{`*?[]\`, `\*\?\[\]\\`},
		{"ünïcode ✓", "ünïcode ✓"},
	}
	for _, tt := range tests {
		if got := cache.EscapePattern(tt.in); got != tt.want {
			t.Errorf("EscapePattern(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzGenerateKey(f *testing.F) {
	for _, s := range []string{"star wars", `movies like <Alien> & "Aliens"`, "", "\x00\xff", "ünïcode"} {
		f.Add("search", s)
	}
	f.Fuzz(func(t *testing.T, prefix, text string) {
		k, err := cache.GenerateKey(prefix, text)
		if err != nil {
			t.Fatalf("a string always serialises: %v", err)
		}
		if !strings.HasPrefix(k, prefix+":") || len(k) != len(prefix)+1+64 {
			t.Fatalf("malformed key %q", k)
		}
		if again, _ := cache.GenerateKey(prefix, text); again != k {
			t.Fatalf("not deterministic: %q then %q", k, again)
		}
	})
}
