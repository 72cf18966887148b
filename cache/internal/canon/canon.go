// Package canon derives the canonical form of a media query's text: the
// form that spellings which cannot differ in meaning share, so that they
// share one cache key ("Tom Hanks comedies from the '90s!" and "90s
// comedies with tom hanks" are one query; "comedies before 1990" and
// "comedies after 1990" never are).
//
// The rules are English and conservative: a rule merges two spellings only
// when no reading of them differs; when in doubt, the words stay as they
// are and the queries keep their own keys. Version names the rules: a
// change of any rule changes it, and it is part of the key, so that a
// value cached under one version's form is never served under another's.
package canon

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// maxWords bounds the words of a text the rules read: a longer one is no
// search query, and is kept as written (its own key; to the near match's
// guards, it answers only itself), so that no text costs the rules more
// than a query's time.
const maxWords = 48

// Version is the version of the rules, part of every canonical key.
const Version = 4

// Form returns the canonical form of text: its words folded and
// normalised by the rules below, and, where order cannot change the
// meaning, its parts sorted, separated by " | ". Two texts with one form
// are one query. Form is deterministic and safe for concurrent use.
//
// A text holding characters the rules do not read (symbols such as "<",
// "+" or a leading "-", emoji, bytes that are not UTF-8), or no word at
// all, is kept as it is written: its form is "=" and the text, which no
// other text shares.
func Form(text string) string {
	folded := prepare(fold(text))
	words, unread := tokens(folded)
	if unread || len(words) == 0 || len(words) > maxWords {
		return "=" + text
	}
	words = compounds(words)
	words = dropFillers(words)
	words = dropRequests(words)
	words = relax(normalise(words))
	if ordered(words) {
		return strings.Join(words, " ")
	}
	words = artists(words)
	units := split(words)
	slices.Sort(units)
	units = slices.Compact(units)
	return strings.Join(units, " | ")
}

// fold normalises Unicode (NFKC), folds case and removes diacritics:
// "Amélie", "AMELIE" and "ame\u0301lie" are one word.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii { // most queries: nothing to normalise, and folding is lowering
		return asciiMarks.Replace(strings.ToLower(s))
	}
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s)
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if out, _, err := transform.String(t, s); err == nil {
		s = out
	}
	return marks.Replace(s)
}

// marks are the apostrophes' other spellings, and "&".
var (
	marks      = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'", "`", "'", "&", " and ")
	asciiMarks = strings.NewReplacer("`", "'", "&", " and ")
)

// tokens splits s into words of letters and digits: punctuation, white
// space and hyphens between words separate them ("sci-fi" is "sci fi");
// an apostrophe inside a word goes ("90's" is "90s", "schindler's"
// "schindlers"), and a negation's "n't" is "not" ("don't" is "do not",
// "can't" "can not", "won't" "will not"). unread is true when s holds a
// character that is none of these (a symbol, an emoji, a hyphen that is
// not between two words): its meaning is not the rules' to judge.
func tokens(s string) (out []string, unread bool) {
	var possessive []int // the words written with "'s" (without it) or "s'"
	prev := ' '
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || r == '\'':
		case r == '-' || r == '\u2010' || r == '\u2011':
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if !isWordRune(prev) || !isWordRune(next) {
				return nil, true // "-zombies": an exclusion, in some search syntaxes
			}
		case strings.ContainsRune(`,.;:!?"()[]{}…–—“”«»`, r):
		default:
			return nil, true
		}
		prev = r
	}
	raws := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
	if len(raws) > maxWords { // no query: kept as written
		return nil, true
	}
	for _, raw := range raws {
		switch {
		case raw == "won't":
			out = append(out, "will", "not")
			continue
		case raw == "can't":
			out = append(out, "can", "not")
			continue
		case strings.HasSuffix(raw, "n't") && len(raw) > 3:
			out = append(out, strings.ReplaceAll(raw[:len(raw)-3], "'", ""), "not")
			continue
		}
		w := strings.ReplaceAll(raw, "'", "")
		if n := len(out); len(raw) == 3 && raw[0] == '\'' && digits(w) && n > 1 && timePrepositions[out[n-1]] && kindWord(out[n-2]) { // "albums of '97" is 1997; "'71" is a film, "Summer of '69" a song
			w = shortYear(w)
		}
		if neg, ok := bareNegations[w]; ok { // "dont", "cannot": negations written without an apostrophe
			out = append(out, neg, "not")
			continue
		}
		if w != "" {
			if (strings.HasSuffix(raw, "'s") || strings.HasSuffix(raw, "s'")) && len(w) > 2 && strings.IndexFunc(w, unicode.IsDigit) < 0 {
				if strings.HasSuffix(raw, "'s") {
					possessive = append(possessive, len(out))
					w = w[:len(w)-1]
				} else {
					possessive = append(possessive, -1-len(out)) // "beatles'": no "s" to take off
				}
			}
			out = append(out, w)
		}
	}
	return possessives(out, possessive), false
}

// shortYear returns the year two digits after an apostrophe write, after
// a kind of thing and a preposition of time ("songs from '99"): from '30
// to '99 in the 1900s, to '25 in the 2000s; the others are left as
// written ("the '27 yankees" are 1927's).
func shortYear(w string) string {
	switch {
	case w >= "30":
		return "19" + w
	case w <= "25":
		return "20" + w
	}
	return w
}

// bareNegations are negations written in one word without an apostrophe,
// and the word before their "not".
var bareNegations = map[string]string{
	"cannot": "can", "cant": "can", "wont": "will", "dont": "do", "doesnt": "does", "didnt": "did", "isnt": "is",
	"arent": "are", "wasnt": "was", "werent": "were", "couldnt": "could", "shouldnt": "should", "wouldnt": "would",
	"havent": "have", "hasnt": "has", "hadnt": "had", "aint": "is",
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// compoundWords are spellings of one word in several: "sci fi", "sci-fi"
// and "scifi" are "scifi".
var compoundWords = map[[2]string]string{
	{"sci", "fi"}:          "scifi",
	{"rom", "com"}:         "romcom",
	{"rom", "coms"}:        "romcoms",
	{"tv", "show"}:         "show",
	{"tv", "shows"}:        "shows",
	{"tv", "series"}:       "series",
	{"television", "show"}: "show", {"television", "shows"}: "shows", {"television", "series"}: "series",
}

func compounds(words []string) []string {
	out := words[:0:0]
	for i := 0; i < len(words); i++ {
		if i+1 < len(words) {
			if w, ok := compoundWords[[2]string{words[i], words[i+1]}]; ok {
				out = append(out, w)
				i++
				continue
			}
		}
		out = append(out, words[i])
	}
	return out
}

// fillers are the phrases that ask for something without saying what
// ("show me", "i want to watch"), dropped at the start of a query, as
// many as there are. Single words that may start a title ("find", as in
// Find Me Guilty; "show", as in Show Boat) are not among them.
var fillers = [][]string{
	{"can", "you", "show", "me"}, {"could", "you", "show", "me"}, {"can", "you", "find"}, {"could", "you", "find"},
	{"can", "you", "recommend"}, {"could", "you", "recommend"}, {"can", "you"}, {"could", "you"},
	{"i", "want", "to", "watch"}, {"i", "want", "to", "see"}, {"i", "would", "like", "to", "watch"}, {"i", "would", "like"},
	{"id", "like", "to", "watch"}, {"id", "like"}, {"i", "want"}, {"i", "m", "looking", "for"}, {"im", "looking", "for"},
	{"show", "me"}, {"give", "me"}, {"get", "me"}, {"recommend", "me"}, {"suggest", "me"}, {"find", "me", "some"},
	{"search", "for"}, {"look", "for"}, {"looking", "for"}, {"what", "are", "some"}, {"what", "are"},
	{"list", "of"}, {"a", "list", "of"}, {"please"}, {"some"}, {"any"}, {"find", "me"}, {"find"},
	{"hey"}, {"ok", "so"}, {"okay", "so"}, {"so"}, {"tell", "me", "about"}, {"is", "there", "a"}, {"is", "there", "an"},
	{"just", "give", "me", "some"}, {"just", "give", "me"}, {"give", "me", "some"}, {"im", "in", "the", "mood", "for"},
	{"i", "m", "in", "the", "mood", "for"}, {"id", "love", "some"}, {"i", "want", "some"}, {"what", "to", "watch"},
	{"looking", "for"}, {"searching", "for"},
}

// dropFillers drops the filler phrases at the start, as many as there are,
// when what follows them is the kind of thing asked for, a year or a
// decade, or a determiner ("show me comedies", "show me some thrillers",
// "show me the office"): before other words they may be a title's start
// ("Show Me Love", "Looking for Alaska", "Some Like It Hot") and stay. A
// trailing "please" goes too, after the kind of thing asked for, a time,
// or four words at least (three may be a title's: "Pet Shop Boys –
// Please").
func dropFillers(words []string) []string {
	if len(words) > 2 && (words[0] == "alexa" || words[0] == "siri") && wakeVerbs[words[1]] { // "alexa, play…"
		words = words[1:]
	}
	i := 0
	titled := false // a filler matched that starts titles: "Show Me the Money", "Show Me a Hero"
	for matched := true; matched; {
		matched = false
		for _, f := range fillers {
			if len(words)-i > len(f) && slices.Equal(words[i:i+len(f)], f) && !(f[0] == "please" && words[i+1] == "please") { // "please please me" is a title
				i, matched = i+len(f), true
				titled = titled || titleStarts[strings.Join(f, " ")]
				break
			}
		}
	}
	if i > 0 && words[i] == "good" && (words[i-1] == "any" || words[i-1] == "some") { // "any good", which the requests read
		i--
	}
	if i > 0 && (isCategory(words[i]) || timeWord(shortOrLong(words[i])) || determiners[words[i]] && !(titled && articles[words[i]])) {
		words = words[i:]
	}
	if n := len(words); n > 1 && words[n-1] == "please" && words[n-2] != "please" && (n > 4 || isCategory(words[n-2]) || timeWord(shortOrLong(words[n-2]))) { // "comedies please", "movies for kids please"; not "pet shop boys please"
		words = words[:n-1]
	}
	return words
}

// titleStarts are the fillers that start titles too; an article after
// them does not make them fillers ("show me the money" is a title).
var titleStarts = map[string]bool{"show me": true, "give me": true, "find me": true, "get me": true, "find": true,
	"looking for": true, "search for": true, "look for": true, "find me some": true, "searching for": true, "so": true,
	"hey": true, "tell me about": true, "just give me": true, "im in the mood for": true, "i m in the mood for": true}

// articles are the determiners a title may go on with.
var articles = map[string]bool{"a": true, "an": true, "the": true}

// determiners may follow a filler phrase that is no title's start.
var determiners = map[string]bool{"a": true, "an": true, "the": true, "some": true, "any": true, "good": true, "new": true}

// shortOrLong returns w with a short decade ("90s") written long.
func shortOrLong(w string) string {
	if d := shortDecade(w); d != "" {
		return d
	}
	if d, ok := decadeWords[w]; ok {
		return d
	}
	return w
}

// synonyms are other words for "movie" and "movies", singular and plural
// kept apart: "Scary Movie" is a title, "scary movies" a genre.
var synonyms = map[string]string{
	"film": "movie", "films": "movies", "flick": "movie", "flicks": "movies", "docs": "documentaries", "animes": "anime",
}

// plurals maps the plurals of the category words to their singular, to
// tell a category word; words are not rewritten by it.
var plurals = map[string]string{
	"movies": "movie", "shows": "show", "comedies": "comedy", "dramas": "drama", "thrillers": "thriller",
	"documentaries": "documentary", "cartoons": "cartoon", "sitcoms": "sitcom",
	"westerns": "western", "musicals": "musical", "romances": "romance", "romcoms": "romcom",
	"episodes": "episode", "seasons": "season", "songs": "song", "albums": "album", "podcasts": "podcast",
	"trailers": "trailer", "animes": "anime", "horrors": "horror", "mysteries": "mystery", "biopics": "biopic",
	"blockbusters": "blockbuster", "soundtracks": "soundtrack",
}

// isCategory reports whether w is a category word, singular or plural.
func isCategory(w string) bool { return categories[w] || categories[plurals[w]] }

// modifiers are the category words that also qualify another word ("Family
// Guy", "War Horse", "Action Jackson"): a run of category words is the
// kind of thing asked for only when it ends with one that is not.
var modifiers = map[string]bool{
	"family": true, "crime": true, "war": true, "action": true, "adventure": true, "fantasy": true,
	"animated": true, "romantic": true, "noir": true, "superhero": true, "tv": true,
}

// kinds marks the words of words that say the kind of thing asked for:
// the runs of category words that end with one that is no modifier
// ("crime family movies", "comedies"; not "family" in "family guy").
func kinds(words []string) []bool {
	marks := make([]bool, len(words))
	for i := 0; i < len(words); {
		j := i
		for j < len(words) && isCategory(words[j]) {
			j++
		}
		if j > i && !modifiers[words[j-1]] {
			for k := i; k < j; k++ {
				marks[k] = true
			}
		}
		i = max(j, i+1)
	}
	return marks
}

// categories are the words of the kind of thing asked for (singular; their
// plurals are in plurals): a run of them is a part of its own, whatever
// its place ("tom hanks comedies", "comedies with tom hanks"), its words
// in their order ("crime family" is not "family crime").
var categories = map[string]bool{
	"movie": true, "show": true, "series": true, "comedy": true, "drama": true, "thriller": true, "documentary": true,
	"cartoon": true, "sitcom": true, "western": true, "musical": true, "romance": true, "romcom": true, "episode": true,
	"song": true, "album": true, "podcast": true, "trailer": true, "anime": true, "horror": true, "mystery": true,
	"scifi": true, "action": true, "animated": true, "animation": true, "biopic": true, "blockbuster": true, "fantasy": true,
	"crime": true, "war": true, "family": true, "adventure": true, "romantic": true, "noir": true, "superhero": true,
	"music": true, "soundtrack": true, "miniseries": true, "docuseries": true, "tv": true,
	// Kinds in the plural only: their singular is in titles ("Game of
	// Thrones", "The Phantom of the Opera", "Short Circuit").
	"games": true, "playlists": true, "audiobooks": true, "specials": true, "symphonies": true, "concertos": true,
	"operas": true, "sonatas": true, "shorts": true,
}

// decadeWords are decades in words.
var decadeWords = map[string]string{
	"thirties": "1930s", "forties": "1940s", "fifties": "1950s", "sixties": "1960s", "seventies": "1970s",
	"eighties": "1980s", "nineties": "1990s", "noughties": "2000s", "00s": "2000s",
}

// digits reports whether s is made of ASCII digits only, and not empty.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// century reports whether the year or decade s (its first two digits)
// is of 1800 to 2099.
func century(s string) bool { return s[:2] == "18" || s[:2] == "19" || s[:2] == "20" }

// shortDecade returns the decade w names as "90s" ("1990s"), or "": 30s
// to 90s only (00s, 10s and 20s: which century?).
func shortDecade(w string) string {
	if len(w) == 3 && w[0] >= '3' && w[0] <= '9' && w[1] == '0' && w[2] == 's' {
		return "19" + w[:2] + "s"
	}
	return ""
}

// year reports whether w is a year, 1800 to 2099.
func year(w string) bool { return len(w) == 4 && digits(w) && century(w) }

// longDecade reports whether w is a decade as "1990s".
func longDecade(w string) bool {
	return len(w) == 5 && digits(w[:4]) && century(w) && w[3] == '0' && w[4] == 's'
}

// ordinalNum reports whether w is an ordinal in digits: "2nd", "21st".
func ordinalNum(w string) bool {
	if len(w) < 3 {
		return false
	}
	switch w[len(w)-2:] {
	case "st", "nd", "rd", "th":
		return digits(w[:len(w)-2])
	}
	return false
}

// timeWord reports whether w names a year or a decade.
func timeWord(w string) bool { return longDecade(w) || year(w) }

// connectorSynonyms are words that say one thing: who is in it ("with",
// "starring", "featuring").
var connectorSynonyms = map[string]string{"starring": "with", "featuring": "with", "feat": "with", "ft": "with"}

// normalise applies the word rules: decades, plurals of categories,
// synonyms; it drops the words that only place a year or a decade ("from
// the 90s", "in 1994", "of the eighties").
func normalise(words []string) []string {
	out := make([]string, 0, len(words))
	for _, w := range words {
		if d := shortDecade(w); d != "" {
			w = d
		}
		if d, ok := decadeWords[w]; ok {
			w = d
		}
		if s, ok := synonyms[w]; ok {
			w = s
		}
		if s, ok := connectorSynonyms[w]; ok {
			w = s
		}
		out = append(out, w)
	}
	// "directed by" is "by"; the words that only place a time go: "from
	// the 90s", "in 1994" (timed[i]: the first word after i that is not
	// "the" is a year or a decade). Linear in the words, whatever they are.
	timed := make([]bool, len(out))
	for i, next := len(out)-1, false; i >= 0; i-- {
		timed[i] = next
		if out[i] != "the" && !(eras[out[i]] && next) { // "from the early 2000s" is "early 2000s"
			next = timeWord(out[i])
		}
	}
	kept := make([]string, 0, len(out))
	for i, w := range out {
		switch {
		case w == "directed" && i+1 < len(out) && out[i+1] == "by" && (i == 0 || out[i-1] != "and"): // not "written and directed by"
		case w == "released" && i+1 < len(out) && (out[i+1] == "in" || timeWord(out[i+1])) && i+2 <= len(out) && (timed[i] || i+1 < len(out) && timed[i+1]): // "released in 2019"
		case timed[i] && (w == "from" || w == "in" || w == "of" || w == "during" || w == "the" && i > 0 && out[i-1] != "by" || w == "the" && i == 0 && !year(out[1])): // "the 1975" is a band's name
		default:
			kept = append(kept, w)
		}
	}
	return kept
}

// eras are the words that place a time within a decade.
var eras = map[string]bool{"early": true, "mid": true, "late": true}

// orderWords are words near which order carries meaning: negations and
// exclusions, comparisons and ranks, ranges, ordinals. A query holding
// one keeps its order.
var orderWords = map[string]bool{
	"not": true, "no": true, "without": true, "except": true, "unlike": true, "non": true, "never": true, "nor": true,
	"but": true, "excluding": true, "minus": true,
	"before": true, "after": true, "under": true, "over": true, "above": true, "below": true, "since": true, "until": true,
	"till": true, "between": true, "to": true, "through": true, "than": true, "vs": true, "versus": true, "v": true,
	"best": true, "worst": true, "top": true, "bottom": true, "first": true, "last": true, "newest": true, "oldest": true,
	"latest": true, "earliest": true, "newer": true, "older": true, "more": true, "less": true, "most": true, "least": true,
	"highest": true, "lowest": true, "longest": true, "shortest": true, "next": true, "previous": true, "prequel": true, "sequel": true,
	"second": true, "third": true, "fourth": true, "fifth": true, "sixth": true, "seventh": true, "eighth": true, "ninth": true, "tenth": true,
	"i": true, "ii": true, "iii": true, "iv": true, "vi": true, "vii": true, "viii": true, "ix": true, "x": true,
	"part": true, "chapter": true, "volume": true, "vol": true,
	"based": true, "adapted": true, "turned": true, "inspired": true, "remake": true, "remakes": true, "into": true,
	"from": true, "for": true, "set": true, "made": true, "like": true, "who": true, "where": true, "when": true,
	"remade": true, "as": true, "spinoff": true, "spinoffs": true, "version": true, "versions": true, "adaptation": true,
	"adaptations": true, "parody": true, "parodies": true, "reboot": true, "reboots": true, "converted": true,
}

// ordered reports whether the words must keep their order: they hold an
// order word, an ordinal, or a number that is no year or decade (a
// sequel's, a count's).
func ordered(words []string) bool {
	times := 0
	for i, w := range words {
		if timeWord(w) && !slices.Contains(words[:i], w) {
			if times++; times == 2 { // "70s songs in 90s movies": each time is of its own word
				return true
			}
		}
	}
	for _, w := range words {
		if orderWords[w] || treatments[w] || ordinalNum(w) || digits(w) && !year(w) {
			return true
		}
	}
	return false
}

// connectors start a part of their own that holds what follows them: who
// made it (by), what it is about (about), and who is in it (with, which
// is also what a name before the category says: "tom hanks comedies" are
// "comedies with tom hanks", so "with" itself is dropped).
var connectors = map[string]bool{"with": true, "by": true, "about": true}

// split cuts words into parts whose order cannot change the meaning:
// each category word, each year or decade, each phrase a connector starts
// (its "and" gives each name its own: "with a and b" is "a", "b"), and
// each run of other words, in its own order.
func split(words []string) []string {
	var units []string
	var cur []string
	conn := ""
	flush := func() {
		if len(cur) > 0 {
			units = append(units, strings.Join(cur, " "))
		}
		cur = nil
	}
	var cats []string // a run of category words
	flushCats := func() {
		if len(cats) > 0 {
			units = append(units, strings.Join(cats, " "))
		}
		cats = nil
	}
	kind := kinds(words)
	for i, w := range words {
		if !kind[i] || conn != "" {
			flushCats()
		}
		switch {
		case timeWord(w):
			flush()
			conn = ""
			units = append(units, w)
		case kind[i] && conn == "":
			flush()
			cats = append(cats, w)
		case connectors[w]:
			flush()
			conn = w
			if w != "with" {
				cur = []string{w}
			}
		case w == "and" && conn != "":
			flush()
			if conn != "with" {
				cur = []string{conn}
			}
		default:
			cur = append(cur, w)
		}
	}
	flush()
	flushCats()
	// A connector with nothing after it (a trailing "by") is a word.
	for i, u := range units {
		if connectors[u] {
			units[i] = u + " "
		}
	}
	if len(words) > 0 && words[len(words)-1] == "with" {
		units = append(units, "with ")
	}
	return units
}

// Key returns the text hashed for the canonical key of text: the rules'
// version and the form, so that a change of the rules changes every key.
func Key(text string) string {
	return "\x00canon/v" + strconv.Itoa(Version) + "\x00" + Form(text) // no text a user types starts so
}
