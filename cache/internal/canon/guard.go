package canon

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Guard reports whether a cached answer to text a may be served for text
// b, however close their vectors: whether every guard that does not trust
// a similarity score passes. The guards are lexical: the two texts must
// have the same words, but for function words ("the", "of", "with",
// "from"…), filler phrases at the start, word order between the parts,
// case, accents, punctuation and the spellings the canonical form merges
// (decades, "films" for "movies"). Beyond that, they must agree exactly
// on
//
//   - their numbers: years, decades, sequel numbers and ordinals, counts
//     ("rocky 2" never answers "rocky 3", "top 10" never "top 100");
//   - their negations and exclusions, with what they apply to ("without
//     romance" never answers "with romance" or "without comedy");
//   - their comparisons, ranks and relations, with what they apply to
//     ("before 1990", "best", "based on");
//   - who made it ("by nolan");
//   - a leading "the" before a name ("the office" never answers "office");
//   - each run of words that are not function words, in its order ("man
//     bites dog" never answers "dog bites man");
//   - their quoted titles, as a set, when both quote some.
//
// A text whose form is kept as written (symbols, emoji: see Form) only
// answers itself. reason says which guard refused, naming the two sides;
// "" when ok. Guard(a, b) is Sign(a).Admits(Sign(b)), with the reason.
func Guard(a, b string) (ok bool, reason string) {
	_, reason = Refusal(a, b)
	return reason == "", reason
}

// Refusal returns the name of the guard that refuses to serve a cached
// answer to text a for text b ("numbers", "negations", "quoted titles",
// "unread"…; "" when every guard passes) and its reason, naming the two
// sides.
func Refusal(a, b string) (guard, reason string) {
	x, y := analyse(a), analyse(b)
	if len(x.quoted) > 0 && len(y.quoted) > 0 && !slices.Equal(x.quoted, y.quoted) {
		return "quoted titles", fmt.Sprintf("quoted titles differ: %q, %q", x.quoted, y.quoted)
	}
	if x.unread || y.unread {
		if x.folded == y.folded {
			return "", ""
		}
		return "unread", "a text the rules do not read (symbols, emoji) answers only itself"
	}
	for _, g := range guards {
		if p, q := g.pick(x.words), g.pick(y.words); !slices.Equal(p, q) {
			return g.name, fmt.Sprintf("%s differ: %q, %q", g.name, p, q)
		}
	}
	return "", ""
}

// GuardNames are the names Refusal gives the guards, in the order they
// are tried.
var GuardNames = func() []string {
	names := []string{"quoted titles", "unread"}
	for _, g := range guards {
		names = append(names, g.name)
	}
	return names
}()

// analysis is what the guards read of one text.
type analysis struct {
	folded string   // the text folded (see fold)
	quoted []string // its quoted titles, sorted (see quotedSet)
	words  []string // its words, as Form takes them; nil when unread
	unread bool     // it holds what the rules do not read: it answers only itself
}

func analyse(text string) analysis {
	a := analysis{folded: fold(text)}
	// Quoted titles, when both texts quote some: one that quotes none is
	// judged on its words, as its canonical form is.
	a.quoted = quotedSet(a.folded)
	a.words, a.unread = words(prepare(a.folded))
	if !a.unread {
		a.words = relax(a.words)
	}
	return a
}

// Signature is what the guards compare of one text, computed once (by
// Sign) so that a text can be checked against many cached ones at the
// cost of comparing strings: Sign(a).Admits(Sign(b)) is Guard(a, b)'s ok.
type Signature struct {
	picks  string // every guard's pick, each word length-prefixed; the folded text when unread
	quoted string // the quoted titles, length-prefixed; "" when none
	unread bool
}

// Sign returns the signature of text.
func Sign(text string) Signature {
	a := analyse(text)
	var b strings.Builder
	put := func(w string) {
		b.WriteString(strconv.Itoa(len(w)))
		b.WriteByte(':')
		b.WriteString(w)
	}
	if a.unread {
		put(a.folded)
	} else {
		for _, g := range guards {
			p := g.pick(a.words)
			b.WriteString(strconv.Itoa(len(p)))
			b.WriteByte('|')
			for _, w := range p {
				put(w)
			}
		}
	}
	s := Signature{picks: b.String(), unread: a.unread}
	b.Reset()
	for _, q := range a.quoted {
		put(q)
	}
	s.quoted = b.String()
	return s
}

// Admits reports whether every guard passes between the texts of s and
// o: whether a value cached for one may be served for the other. It is
// symmetric.
func (s Signature) Admits(o Signature) bool {
	if s.quoted != "" && o.quoted != "" && s.quoted != o.quoted {
		return false
	}
	return s.unread == o.unread && s.picks == o.picks
}

// Size is the signature's size in bytes, for memory accounting.
func (s Signature) Size() int { return len(s.picks) + len(s.quoted) + 40 }

// words returns the normalised words of folded text, as Form takes them,
// and whether it holds characters the rules do not read.
func words(folded string) ([]string, bool) {
	ws, unread := tokens(folded)
	if unread || len(ws) == 0 {
		return nil, true
	}
	return artists(normalise(dropFillers(compounds(ws)))), false
}

// maxQuoted bounds the quoted titles a text's guard compares: a text with
// more is compared on its first ones only (its other words still are).
const maxQuoted = 16

// quotedSet returns the texts between double quotes in s, sorted, at most
// maxQuoted of them.
func quotedSet(s string) []string {
	var out []string
	for len(out) < maxQuoted {
		i := strings.IndexAny(s, "\"\u201c\u201d")
		if i < 0 {
			break
		}
		s = s[i+1:]
		j := strings.IndexAny(s, "\"\u201c\u201d")
		if j < 0 {
			break
		}
		if q := strings.Join(strings.Fields(s[:j]), " "); q != "" {
			out = append(out, q)
		}
		s = s[j+1:]
	}
	slices.Sort(out)
	return slices.Compact(out)
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
	{"subjects", func(ws []string) []string { return sorted(withNext(ws, map[string]bool{"about": true}), nil) }},
	// Runs of category words, in their order ("crime family" is not
	// "family crime").
	{"categories", func(ws []string) []string { return dedup(sorted(markedRuns(ws, kinds(ws), true), nil)) }},
	// A leading "the" before a name is a title's ("the office" is not
	// "office"; "the movie heat" is "heat").
	{"leading article", func(ws []string) []string {
		if len(ws) > 1 && ws[0] == "the" && !function[ws[1]] && !isCategory(ws[1]) {
			return []string{"the"}
		}
		return nil
	}},
	{"words", func(ws []string) []string { return sorted(ws, content) }},
	// Runs of words, each in its order ("tom hanks"; "man bites dog" is
	// not "dog bites man"), in any order of the runs.
	{"phrases", func(ws []string) []string {
		kind := kinds(ws)
		names := make([]bool, len(ws))
		for i, w := range ws {
			names[i] = !kind[i] && nameWord(w)
		}
		return dedup(sorted(markedRuns(ws, names, true), nil))
	}},
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

// withNext returns each word of ws that is in set, joined to the first
// word after it that is no function word (what it applies to): "without
// romance", "about family" in "about a family".
func withNext(ws []string, set map[string]bool) []string {
	var out []string
	for i, w := range ws {
		if !set[w] {
			continue
		}
		next := ""
		for _, n := range ws[i+1:] {
			if !function[n] {
				next = n
				break
			}
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

// content reports whether w is a word two queries must share to ask for
// the same thing: any but a function word.
func content(w string) bool { return !function[w] }

// nameWord reports whether w may be a word of a name or a title: a
// content word that is no number, negation or comparison (a category word
// is one too, but where it says the kind of thing asked for: see kinds).
func nameWord(w string) bool {
	return content(w) && !numeral(w) && !orderWords[w] && !negations[w]
}

// markedRuns returns the runs of consecutive words of ws whose mark is
// want, each joined by spaces.
func markedRuns(ws []string, marks []bool, want bool) []string {
	var out, cur []string
	for i, w := range ws {
		if marks[i] == want {
			cur = append(cur, w)
			continue
		}
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return out
}

// function are the words two queries may differ in and still ask for the
// same thing: articles and the prepositions and conjunctions whose parts
// the other guards compare (a number's, a negation's), a request's words.
// Pronouns, question words, "for", "about", "like" are content: "she
// kills him" is not "he kills her", "movies for kids" not "movies about
// kids".
var function = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields("a an the of and with in on at from that which me please") {
		m[w] = true
	}
	return m
}()
