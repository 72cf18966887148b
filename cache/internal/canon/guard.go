package canon

import (
	"fmt"
	"slices"
	"strings"
)

// Guard reports whether a cached answer to text a may be served for text
// b, however close their vectors: whether every guard that does not trust
// a similarity score passes. The two texts must agree exactly on
//
//   - their numbers: years, decades, sequel numbers and ordinals, counts
//     ("rocky 2" never answers "rocky 3", "top 10" never "top 100");
//   - their negations and exclusions, with what they apply to ("without
//     romance" never answers "with romance" or "without comedy");
//   - their comparisons and ranks, with what they apply to ("before
//     1990", "best");
//   - who made it ("by nolan");
//   - the kinds of thing asked for, plurals and synonyms of movie aside
//     ("comedies" never answers "dramas"; "movie" itself may be left out);
//   - a leading "the" ("the office" never answers "office");
//   - every other word that is not a common word of media queries: the
//     names, titles and topics ("tom hanks" never answers "tom cruise");
//   - their quoted titles, each found in the other.
//
// What they may differ in: filler phrases at the start ("show me"), word
// order, case, punctuation, function words ("with", "from") and the
// common words of media queries (moods, audiences, "good", "new"). reason says which guard
// refused, naming the two sides, for the figures; "" when ok.
func Guard(a, b string) (ok bool, reason string) {
	fa, fb := fold(a), fold(b)
	for _, q := range quoted(fa) {
		if !strings.Contains(fb, q) {
			return false, fmt.Sprintf("quoted title %q not in the other", q)
		}
	}
	for _, q := range quoted(fb) {
		if !strings.Contains(fa, q) {
			return false, fmt.Sprintf("quoted title %q not in the other", q)
		}
	}
	ta, tb := words(fa), words(fb)
	for _, g := range guards {
		if x, y := g.pick(ta), g.pick(tb); !slices.Equal(x, y) {
			return false, fmt.Sprintf("%s differ: %v, %v", g.name, x, y)
		}
	}
	return true, ""
}

// words returns the normalised words of folded text, as Form takes them.
func words(folded string) []string {
	return normalise(dropFillers(compounds(tokens(folded))))
}

// quoted returns the texts between double quotes in s.
func quoted(s string) []string {
	var out []string
	for {
		i := strings.IndexAny(s, "\"\u201c\u201d")
		if i < 0 {
			return out
		}
		s = s[i+1:]
		j := strings.IndexAny(s, "\"\u201c\u201d")
		if j < 0 {
			return out
		}
		if q := strings.TrimSpace(s[:j]); q != "" {
			out = append(out, q)
		}
		s = s[j+1:]
	}
}

// A guard picks, from a text's words, what two texts must agree on, as a
// sorted list.
type guard struct {
	name string
	pick func(words []string) []string
}

var guards = []guard{
	{"numbers", func(ws []string) []string { return sorted(ws, numeral) }},
	{"negations", func(ws []string) []string { return sorted(withNext(ws, negations), nil) }},
	{"comparisons", func(ws []string) []string { return sorted(withNext(ws, comparisons), nil) }},
	{"makers", func(ws []string) []string { return sorted(withNext(ws, map[string]bool{"by": true}), nil) }},
	// "movie" says nothing a query without it does not: not compared.
	{"categories", func(ws []string) []string {
		return dedup(sorted(ws, func(w string) bool { return categories[w] && w != "movie" }))
	}},
	// A leading "the" before a name is a title's ("the office" is not
	// "office"; "the movie heat" is "heat").
	{"leading article", func(ws []string) []string {
		if len(ws) > 1 && ws[0] == "the" && rare(ws[1]) {
			return []string{"the"}
		}
		return nil
	}},
	// Runs of such words, each in its order ("tom hanks"; "man bites dog"
	// is not "dog bites man"), in any order of the runs.
	{"names and titles", func(ws []string) []string { return dedup(sorted(runs(ws, rare), nil)) }},
}

// numeral reports whether w is a number: digits (years, decades, counts,
// ordinals), a number word, or a sequel's roman numeral.
func numeral(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] >= '0' && w[i] <= '9' {
			return true
		}
	}
	return numberWords[w]
}

var numberWords = map[string]bool{
	"one": true, "two": true, "three": true, "four": true, "five": true, "six": true, "seven": true, "eight": true,
	"nine": true, "ten": true, "eleven": true, "twelve": true, "twenty": true, "hundred": true, "thousand": true,
	"first": true, "second": true, "third": true, "fourth": true, "fifth": true, "sixth": true, "seventh": true,
	"eighth": true, "ninth": true, "tenth": true, "ii": true, "iii": true, "iv": true, "vi": true, "vii": true,
	"viii": true, "ix": true, "twenties": true, "1900s": true, "2000s": true, "2010s": true, "2020s": true,
}

var negations = map[string]bool{
	"not": true, "no": true, "without": true, "except": true, "unlike": true, "non": true, "never": true, "nor": true,
	"excluding": true, "minus": true, "but": true,
}

// comparisons are order words that are neither negations nor numbers.
var comparisons = func() map[string]bool {
	m := map[string]bool{}
	for w := range orderWords {
		if !negations[w] && !numberWords[w] {
			m[w] = true
		}
	}
	return m
}()

// withNext returns each word of ws that is in set, joined to the word
// after it (what it applies to): "without romance".
func withNext(ws []string, set map[string]bool) []string {
	var out []string
	for i, w := range ws {
		if !set[w] {
			continue
		}
		next := ""
		if i+1 < len(ws) {
			next = ws[i+1]
		}
		out = append(out, w+" "+next)
	}
	return out
}

// sorted returns the words of ws that keep says to (all, for nil), sorted.
func sorted(ws []string, keep func(string) bool) []string {
	var out []string
	for _, w := range ws {
		if keep == nil || keep(w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

func dedup(ws []string) []string { return slices.Compact(ws) }

// runs returns the runs of consecutive words of ws that keep says to,
// each joined by spaces.
func runs(ws []string, keep func(string) bool) []string {
	var out, cur []string
	for _, w := range append(ws, "") {
		if w != "" && keep(w) {
			cur = append(cur, w)
			continue
		}
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	return out
}

// rare reports whether w is a word two queries must share to ask for the
// same thing: not a function word, a filler, a number, a category, an
// order word or a common word of media queries.
func rare(w string) bool {
	return !common[w] && !categories[w] && !orderWords[w] && !negations[w] && !numeral(w) && !connectors[w] && !timeWord(w)
}

// common are the function words and the common words of media queries,
// in which two queries may differ and still ask for the same thing.
var common = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or of in on at to for from with by about as into over
		is are was were be been being do does did have has had will would can could should may might
		me my i im id you your we our us they their them he him his she her it its this that these those there here
		what which who whom whose when where why how some any all every each few many much more most other such
		like please
		good great nice cool fun top best new old recent latest classic classics popular famous favorite
		scary funny sad happy dark light feel feelgood heartwarming uplifting thoughtful intense exciting
		kids kid children child family adult adults teen teens
		full length short long free online streaming stream tonight today weekend now
		set made released featuring starring directed
		movie movies film films show series season seasons episode episodes`) {
		m[w] = true
	}
	return m
}()
