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
// answer to text a for text b ("numbers", "negations", "quoted_titles",
// "unread"…, in snake case; "" when every guard passes) and its reason, naming the two
// sides.
func Refusal(a, b string) (guard, reason string) {
	x, y := analyse(a), analyse(b)
	if len(x.quoted) > 0 && len(y.quoted) > 0 && !slices.Equal(x.quoted, y.quoted) {
		return "quoted_titles", fmt.Sprintf("quoted titles differ: %q, %q", x.quoted, y.quoted)
	}
	if x.unread || y.unread {
		if x.folded == y.folded {
			return "", ""
		}
		return "unread", "a text the rules do not read (symbols, emoji) answers only itself"
	}
	for _, g := range guards {
		if p, q := g.pick(x.words), g.pick(y.words); !slices.Equal(p, q) {
			return g.name, fmt.Sprintf("%s differ: %q, %q", strings.ReplaceAll(g.name, "_", " "), p, q)
		}
	}
	if name, ok := agree(makers(x.words), makers(y.words)); !ok {
		return "makers", fmt.Sprintf("makers differ: %q made by one, %q in the other", name, name)
	}
	return "", ""
}

// bridges are the function words a phrase of names goes on across.
var bridges = map[string]bool{"of": true, "the": true}

// nameMarks marks the words of ws that may be a name's: no kind of thing
// asked for, no function word, number, negation or comparison, no "by".
func nameMarks(ws []string) []bool {
	kind := kinds(ws)
	names := make([]bool, len(ws))
	for i, w := range ws {
		names[i] = !kind[i] && nameWord(w) && w != "by" && w != "about" && !counted[w] // whose phrases the makers and subjects compare
	}
	return names
}

// counted are the words a number counts in a name ("stranger things
// season 1" is "season 1 of stranger things"): the numbers guard compares
// them with their number.
var counted = map[string]bool{"season": true, "seasons": true, "episode": true, "episodes": true}

// A role is what a name is to the thing asked for: its maker ("by"), who
// is in it ("with", "starring"; "pre", a name before the kind, "hanks
// movies", is taken for it, as the canonical form takes it, but before
// "songs" or "albums", where it is their maker), or unsaid ("").
type role struct {
	name, role string
}

// makers returns the roles of the runs of name words of ws, sorted by
// name, the first of each name only.
func makers(ws []string) []role {
	marks := nameMarks(ws)
	kind := kinds(ws)
	var out []role
	for i := 0; i < len(ws); {
		if !marks[i] {
			i++
			continue
		}
		j := i
		for j < len(ws) && marks[j] {
			j++
		}
		r := ""
		for k := i - 1; k >= 0; k-- { // the connector before the run, across function words
			if ws[k] == "by" || ws[k] == "with" {
				r = ws[k]
				break
			}
			if !function[ws[k]] {
				break
			}
		}
		if r == "" && j < len(ws) && kind[j] {
			r = "pre"
			k := j
			for k < len(ws) && kind[k] {
				k++
			}
			if name := strings.Join(ws[i:j], " "); musicKinds[ws[k-1]] && !audiences[name] || makerOf(name, ws[k-1]) { // "21 savage songs", "nolan movies": by them
				r = "by"
			}
		}
		out = append(out, role{strings.Join(ws[i:j], " "), r})
		i = j
	}
	slices.SortStableFunc(out, func(a, b role) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(out, func(a, b role) bool { return a.name == b.name })
}

// agree reports whether two texts' roles of their names agree: a name
// made by ("by") in one is not one that is in it ("with", "pre"), nor
// unsaid, in the other. It returns a name that disagrees.
func agree(a, b []role) (string, bool) {
	for _, x := range a {
		i, ok := slices.BinarySearchFunc(b, x.name, func(r role, name string) int { return strings.Compare(r.name, name) })
		if !ok {
			continue // the other guards compare the names themselves
		}
		y := b[i]
		if (x.role == "by") != (y.role == "by") {
			return x.name, false
		}
	}
	return "", true
}

// GuardNames are the names Refusal gives the guards, in the order they
// are tried.
var GuardNames = func() []string {
	names := []string{"quoted_titles", "unread"}
	for _, g := range guards {
		names = append(names, g.name)
	}
	return append(names, "makers")
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
	return a
}

// Signature is what the guards compare of one text, computed once (by
// Sign) so that a text can be checked against many cached ones at the
// cost of comparing strings: Sign(a).Admits(Sign(b)) is Guard(a, b)'s ok.
type Signature struct {
	picks  string // every guard's pick, each word length-prefixed; the folded text when unread
	quoted string // the quoted titles, length-prefixed; "" when none
	unread bool
	roles  []role // the names' roles (see makers)
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
	if !a.unread {
		s.roles = makers(a.words)
	}
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
	if s.unread != o.unread || s.picks != o.picks {
		return false
	}
	_, ok := agree(s.roles, o.roles)
	return ok
}

// Size is the signature's size in bytes, for memory accounting.
func (s Signature) Size() int {
	n := len(s.picks) + len(s.quoted) + 64
	for _, r := range s.roles {
		n += len(r.name) + len(r.role) + 32
	}
	return n
}

// words returns the normalised words of folded text, as Form takes them,
// and whether it holds characters the rules do not read.
func words(folded string) ([]string, bool) {
	ws, unread := tokens(folded)
	if unread || len(ws) == 0 || len(ws) > maxWords {
		return nil, true
	}
	return countless(artists(relax(countless(normalise(dropRequests(dropFillers(compounds(ws)))), true))), false), false
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
	// Numbers, each with the word it counts ("season 2", "episode 5":
	// "season 2 episode 5" is not "season 5 episode 2"); years and decades,
	// which place the whole query, as a set (but "by the 1975", a name).
	{"numbers", func(ws []string) []string {
		var out []string
		times := map[string]bool{}
		for _, w := range ws {
			if timeWord(w) {
				times[w] = true
			}
		}
		for i, w := range ws {
			if !numeral(w) {
				continue
			}
			prev := "^"
			for j := i - 1; j >= 0; j-- {
				if !function[ws[j]] {
					prev = ws[j]
					break
				}
			}
			if timeWord(w) && prev != "by" && len(times) < 2 { // two times: each with its own word ("80s movies set in the 50s")
				out = append(out, w)
				continue
			}
			out = append(out, prev+" "+w)
		}
		slices.Sort(out)
		return out
	}},
	{"negations", func(ws []string) []string { return sorted(withNext(ws, negations), nil) }},
	{"comparisons", func(ws []string) []string { return sorted(withNext(ws, comparisons), nil) }},
	{"subjects", func(ws []string) []string { return sorted(withNext(ws, map[string]bool{"about": true}), nil) }},
	// What was done to it, with what: "dubbed in english" is not "dubbed
	// in spanish", whichever language the rest names.
	{"treatments", func(ws []string) []string { return sorted(withNext(ws, treatments), nil) }},
	// Where it is, and in what language: "netflix shows on hulu" are not
	// "hulu shows on netflix", "spanish movies in english" not "english
	// movies in spanish".
	{"places", func(ws []string) []string {
		var out []string
		for i, w := range ws[:max(len(ws)-1, 0)] {
			if w == "on" && (platforms[ws[i+1]] || relatedWord(ws[i+1])) || w == "in" && languages[ws[i+1]] {
				out = append(out, w+" "+ws[i+1])
			}
		}
		slices.Sort(out)
		return out
	}},
	// Runs of category words, in their order ("crime family" is not
	// "family crime").
	{"categories", func(ws []string) []string { return dedup(sorted(markedRuns(ws, kinds(ws), true), nil)) }},
	// A leading "the" before a name is a title's ("the office" is not
	// "office"; "the movie heat" is "heat").
	{"leading_article", func(ws []string) []string {
		if len(ws) > 1 && ws[0] == "the" && !function[ws[1]] && !isCategory(ws[1]) && !orderWords[ws[1]] {
			return []string{"the"}
		}
		if len(ws) > 1 && ws[0] == "that" { // "That '70s Show" is not "a 70s show"
			return []string{"that"}
		}
		return nil
	}},
	// Every word but the function words, and "by", whose name the makers
	// compare (see makers).
	{"words", func(ws []string) []string { return sorted(ws, func(w string) bool { return content(w) && w != "by" }) }},
	// Runs of words, each in its order ("tom hanks"; "man bites dog" is
	// not "dog bites man"), in any order of the runs.
	{"phrases", func(ws []string) []string {
		marks := nameMarks(ws)
		// A run goes on across "of" and "the" between two of its words:
		// "return of the jedi" is one name.
		for i := range ws {
			if marks[i] || !bridges[ws[i]] {
				continue
			}
			before, after := i > 0 && marks[i-1], false
			for j := i + 1; j < len(ws); j++ {
				if !bridges[ws[j]] {
					after = marks[j]
					break
				}
			}
			if before && after {
				marks[i] = true
			}
		}
		return dedup(sorted(markedRuns(ws, marks, true), nil))
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

var languages = wordSet("english spanish french german italian japanese korean chinese mandarin cantonese hindi " +
	"portuguese russian arabic turkish swedish danish norwegian finnish dutch polish greek hebrew thai vietnamese " +
	"indonesian tagalog tamil telugu bengali urdu persian farsi ukrainian czech hungarian romanian")

var treatments = map[string]bool{
	"dubbed": true, "dub": true, "dubs": true, "subtitled": true, "subtitles": true, "subs": true, "narrated": true,
	"hosted": true, "voiced": true, "translated": true, "filmed": true, "shot": true, "recorded": true, "composed": true,
	"written": true, "produced": true, "remastered": true, "colorized": true,
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
		out = append(out, w+" "+strings.Join(object(ws[i+1:]), " "))
	}
	return out
}

// object returns what a word such as "without", "like" or "dubbed" applies
// to, the start of ws: past function words and a "by" ("written by X"),
// the run of words that follows, a "the" just before it included ("like
// the room" is not "like room"), up to a function word or another word
// that relates ("but", "for", "about"…).
func object(ws []string) []string {
	i := 0
	for i < len(ws) && (function[ws[i]] || ws[i] == "by") {
		i++
	}
	start := i
	if i > 0 && ws[i-1] == "the" {
		start = i - 1
	}
	for i < len(ws) && relatedWord(ws[i]) {
		i++
	}
	return ws[start:i]
}

// relatedWord reports whether w may be part of what a relation applies
// to: a word that is no function word and relates nothing itself.
func relatedWord(w string) bool {
	return content(w) && !orderWords[w] && !negations[w] && !treatments[w] && w != "by" && w != "about" && !timeWord(w)
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
var function = wordSet("a an the of and with in on at from that which")
