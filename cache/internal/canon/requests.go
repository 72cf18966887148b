package canon

import (
	"slices"
	"strings"
)

// Requests, and the kind of thing they ask for: the words that ask
// without saying what ("can you recommend", "show me", "any good"), which
// two queries may differ in, and the singular that asks for any one thing
// of a kind ("a show like succession").

// requests are phrases that ask, which no title starts with, dropped at
// the start of a text whatever follows (the canonical form drops its
// fillers only before the kind of thing asked for: "Show Me Love" is a
// title; these are not).
var requests = [][]string{
	{"can", "you", "show", "me"}, {"could", "you", "show", "me"}, {"please", "show", "me"}, {"can", "you", "find"},
	{"could", "you", "find"}, {"can", "you", "recommend"}, {"could", "you", "recommend"}, {"can", "you", "suggest"},
	{"i", "want", "to", "watch"}, {"i", "want", "to", "see"}, {"i", "want", "to", "listen", "to"}, {"i", "want", "to", "play"},
	{"id", "like", "to", "see"}, {"id", "like", "to", "watch"}, {"i", "would", "like", "to", "watch"},
	{"help", "me", "find"}, {"give", "me", "a", "list", "of"}, {"suggest", "some"},
	{"recommend", "some"}, {"recommend", "me"}, {"recommend"}, {"suggest"}, {"are", "there", "any"},
	{"got", "any", "recommendations", "for"}, {"any", "recommendations", "for"}, {"need", "ideas", "for"},
	{"what", "are", "some"}, {"recommend", "me", "some"}, {"could", "you", "suggest"}, {"can", "you", "find", "me"},
	{"could", "you", "find", "me"}, {"suggest", "me"}, {"are", "there", "some"}, {"im", "searching", "for"},
	{"i", "m", "searching", "for"}, {"id", "love", "some", "recommendations", "for"}, {"id", "like", "to", "listen", "to"},
	{"i", "wanna", "see"}, {"i", "wanna", "watch"}, {"can", "u", "show", "me"}, {"can", "u", "recommend"},
	{"what", "should", "i", "watch"}, {"id", "like", "to", "find"}, {"i", "would", "like", "to", "find"},
	{"recommendations", "for"}, {"suggestions", "for"}, {"any", "suggestions", "for"}, {"what", "to", "watch"},
	{"would", "you", "list"}, {"can", "you", "list"}, {"please", "recommend"}, {"pls", "recommend"}, {"plz", "recommend"},
	{"please", "suggest"}, {"can", "u", "find", "me"}, {"can", "u", "find"},
	{"what", "are", "some", "good"}, {"what", "are", "good"}, {"whats", "a", "good"}, {"whats", "good", "in"},
	{"what", "is", "a", "good"}, {"id", "like", "some"}, {"im", "after"}, {"i", "m", "after"},
	{"can", "i", "watch"}, {"im", "trying", "to", "find"}, {"i", "m", "trying", "to", "find"}, {"trying", "to", "find"},
	{"please", "find", "me"}, {"can", "you", "play"}, {"play", "me", "some"}, {"is", "there", "any"}, {"any", "idea"},
	{"what", "are", "the"}, {"i", "d", "like", "to", "watch"}, {"can", "i", "get", "some"}, {"do", "you", "have", "any"},
	{"i", "was", "wondering", "if", "you", "have"}, {"queue", "up"}, {"hey", "siri"}, {"ok", "google"}, {"okay", "google"},
	{"hey", "google"}, {"hey", "alexa"},
}

// leads are request phrases that may start a title ("Find My Way", "Show
// Me Love", "Looking for Alaska", "I Need a Hero"): dropped only before
// enough words and where the kind of thing asked for follows, and before
// an article only where the article goes on with the kind ("looking for a
// podcast about space", "show me the best documentaries"): "Show Me a
// Hero" and "Show Me the Money" keep their words.
var leads = []struct {
	words []string
	after int
}{
	{[]string{"find"}, 3}, {[]string{"im", "looking", "for"}, 2}, {[]string{"i", "m", "looking", "for"}, 2},
	{[]string{"looking", "for"}, 2}, {[]string{"show", "me"}, 2}, {[]string{"give", "me"}, 2}, {[]string{"find", "me"}, 2},
	{[]string{"i", "need"}, 2}, {[]string{"im", "in", "the", "mood", "for"}, 2}, {[]string{"i", "m", "in", "the", "mood", "for"}, 2},
	{[]string{"in", "the", "mood", "for"}, 2}, {[]string{"whats", "the"}, 2}, {[]string{"i", "need", "some"}, 2},
	{[]string{"play"}, 2}, {[]string{"put", "on"}, 2},
}

// leadTitles are titles a lead starts, which keep their words whatever
// follows ("Looking for Alaska series" is not an Alaska series).
var leadTitles = func() [][]string {
	var out [][]string
	for _, t := range []string{"looking for alaska", "looking for mr goodbar", "looking for richard", "looking for eric",
		"looking for grace", "looking for hortense", "looking for a fight", "show me a hero", "show me the money", "show me love",
		"show me what you got", "give me love", "give me shelter", "give me liberty", "give me the night", "find me guilty",
		"find my way", "i need a hero", "i need you", "i need a doctor", "i need to know", "i need love",
		"in the mood for love", "im in the mood for love", "i m in the mood for love", "i need a girl", "i want you",
		"i want to break free", "i want it that way", "i want to hold your hand", "i want to know what love is",
		"i want it all", "play misty for me", "play it again sam", "play dead", "play it as it lays", "looking for a new love",
		"i need some sleep", "play that funky music", "play the game", "play with fire", "play nice", "put on a happy face"} {
		out = append(out, strings.Fields(t))
	}
	return out
}()

// interjections may come before a request ("hey, could you show me…"),
// and a voice assistant's name ("alexa, play…"): they go with it, and
// only with it ("Hey Jude", "Alexa & Katie" keep their words).
var interjections = [][]string{{"hey"}, {"hi"}, {"hello"}, {"ok", "so"}, {"okay", "so"}, {"ok"}, {"okay"}, {"so"}, {"yo"},
	{"um"}, {"uh"}, {"basically"}, {"honestly"}, {"just"}, {"well"}, {"so", "like"}, {"like"}, {"hey", "so"},
	{"siri"}, {"alexa"}}

// wakeVerbs are the requests a voice assistant's name goes before, which
// drop it: "alexa, play…"; not "Alexa & Katie".
var wakeVerbs = map[string]bool{"play": true, "show": true, "find": true, "put": true, "search": true, "open": true,
	"start": true, "queue": true, "shuffle": true, "recommend": true}

func init() { // the longest phrase first: "recommend me some" before "recommend"
	slices.SortStableFunc(requests, func(a, b []string) int { return len(b) - len(a) })
}

// kindWord reports whether w says the kind of thing asked for.
func kindWord(w string) bool { return isCategory(w) || isCategory(synonyms[w]) || otherKinds[w] }

// otherKinds are the kinds of thing asked for that are no category word of
// the canonical form's.
var otherKinds = map[string]bool{
	"games": true, "game": true, "music": true, "playlists": true, "playlist": true, "audiobooks": true, "audiobook": true,
	"specials": true, "records": true, "shorts": true, "miniseries": true, "docuseries": true, "videos": true,
	"soundtracks": true, "soundtrack": true, "scores": true, "symphonies": true, "novels": true, "books": true,
	"adaptations": true, "remakes": true, "beats": true, "discography": true, "performances": true, "roles": true,
	"season": true, "seasons": true,
}

// ranks are the words after which "the" is no title's: "show me the best
// documentaries".
var ranks = map[string]bool{"best": true, "top": true, "greatest": true, "most": true, "latest": true, "newest": true}

// leadsTo reports whether rest, what follows a lead, is what a request
// asks for: the kind of thing asked for is in it; an article at its start
// goes on with that kind within three words ("a" or "an") or a rank ("the
// best"); and one word alone before the kind says what kind ("show me
// korean movies", "show me hitchcock movies"), as a title's word would not
// ("Show Me Heaven" song, "Looking for Alaska" series).
func leadsTo(rest []string) bool {
	k := slices.IndexFunc(rest, kindWord)
	if k < 0 {
		return false
	}
	between := rest[:k]
	if len(between) > 0 && articles[between[0]] {
		if between[0] == "the" && (len(between) < 2 || !ranks[between[1]] && between[1] != "new") || len(between) > 3 {
			return false
		}
		between = between[1:]
	}
	if slices.ContainsFunc(between, func(w string) bool { return pronouns[w] }) {
		return false
	}
	return len(between) != 1 || says(between[0])
}

// says reports whether w, alone before the kind of thing asked for, says
// what kind: a genre, a time, a country, a language, a platform, an
// audience, a known subject or maker, a rank.
func says(w string) bool {
	_, subject := subjectForms[w]
	return modifierWord(w) || subject || knownMaker(w) || ranks[w] || moods[w] || occasions[w]
}

// moods are the words that say what a thing asked for is like, and are
// rarely a title's alone before its kind.
var moods = wordSet("new good scary funny sad happy dark cozy relaxing chill upbeat uplifting creepy spooky " +
	"classic old recent popular underrated short long feelgood wholesome mindblowing emotional inspiring epic " +
	"quiet slow fast violent gory bloody cheesy smart clever weird strange silly stupid cute beautiful")

// wordSet returns the set of the words of s.
func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// pronouns are the words of a title's phrase, not a request's: "show me
// your love".
var pronouns = map[string]bool{"your": true, "my": true, "his": true, "her": true, "our": true, "their": true,
	"you": true, "me": true, "it": true, "what": true, "how": true, "who": true, "us": true, "them": true}

// likeWords are what "show me" may ask for beside a kind of thing:
// "show me something like breaking bad", "show me everything with
// morgan freeman".
var likeWords = map[string]bool{"something": true, "anything": true, "everything": true, "stuff": true}

// dropRequests drops the request phrases at the start of ws, as many as
// there are (with an interjection before them), leaving one word at
// least; and a "for me" after the kind of thing asked for at the end.
func dropRequests(ws []string) []string {
	dropped := false
	for matched := true; matched; {
		matched = false
		for _, skip := range append([][]string{nil}, interjections...) {
			if len(ws) <= len(skip) || !slices.Equal(ws[:len(skip)], skip) {
				continue
			}
			rest := ws[len(skip):]
			for _, again := range interjections { // "honestly just give me…"
				if len(skip) > 0 && len(rest) > len(again) && slices.Equal(rest[:len(again)], again) {
					rest = rest[len(again):]
					break
				}
			}
			if n := requestAt(rest); n > 0 {
				ws, matched, dropped = rest[n:], true, true
				break
			}
		}
	}
	// after: "good" came after "any".
	after := false
	if len(ws) > 2 && (ws[0] == "any" || ws[0] == "some" && (kindWord(ws[2]) || says(ws[2])) && goodKind(ws[len(ws)-1]) || dropped && (ws[0] == "some" || ws[0] == "a") && isCategory(ws[2])) && ws[1] == "good" { // "any good heist movies", "some good war documentaries"
		ws, after = ws[1:], ws[0] == "any" // "some good": "good" as the canonical form reads it ("Good Witch" keeps it)
	}
	if dropped && len(ws) > 2 && (ws[0] == "some" || ws[0] == "any") && slices.ContainsFunc(ws[1:], kindWord) { // "recommend some jazz podcasts"
		ws = ws[1:]
	}
	if len(ws) > 2 && ws[0] == "good" && (dropped || after) && slices.ContainsFunc(ws[1:min(len(ws), 4)], goodKind) || len(ws) > 1 && ws[0] == "good" && (isCategory(ws[1]) || modifierWord(ws[1]) || moods[ws[1]] || subjectAt2(ws[1:])) && goodKind(ws[len(ws)-1]) && strings.HasSuffix(ws[len(ws)-1], "s") { // "any good heist movies", "good horror movies", "good space exploration documentaries": not "Good Burger", "The Good Dinosaur" movie
		ws = ws[1:]
	}
	if n := len(ws); n > 3 && ws[n-2] == "for" && ws[n-1] == "me" && kindWord(ws[n-3]) { // "list coen brothers comedies for me"
		ws = ws[:n-2]
	}
	return ws
}

// subjectAt2 reports whether ws start with a known subject of two words
// or more, before the kind of thing asked for.
func subjectAt2(ws []string) bool {
	if k := slices.IndexFunc(ws, kindWord); k >= 0 {
		ws = ws[:k]
	}
	_, n := subjectAt(ws)
	return n > 1
}

// goodKind reports whether w is a kind of thing asked for, in the plural,
// that "good" before it only ranks ("good heist movies", "a good war
// documentary"); not a show or its parts: "Good Girls season 2", "Good
// Omens episodes".
func goodKind(w string) bool {
	return kindWord(w) && !episodic[w] && w != "music"
}

// episodic are the parts of a show: "Good Girls season 2".
var episodic = map[string]bool{"episode": true, "episodes": true, "season": true, "seasons": true, "series": true, "show": true, "shows": true}

// describing are the words that say what a thing asked for is like ("a
// podcast about space", "a show like succession"); not "for" or "in",
// which go on titles ("A Song for Martin").
var describing = map[string]bool{"like": true, "about": true, "with": true, "starring": true, "from": true,
	"on": true, "set": true, "similar": true, "where": true, "that": true, "by": true}

// anyOne writes in the plural the kind of thing asked for where its
// singular asks for any one of them (the words normalised): a thing one
// counts, first or after "a", "an" or "any" and no rank, when what it is
// like follows ("a podcast about space", "recommend a show like
// succession"; not "the last song by the beatles", "Scary Movie with Anna
// Faris"); a genre when a time before it or a decade after it, or its
// maker, places it ("1973 comedy", "comedy of the sixties", "thriller by
// hitchcock"; not "Thriller 1982", an album). The singular alone is a
// title's ("Scary Movie", "A Goofy Movie"), and so is a time before a
// movie or a show ("1917 movie", "that 70s show").
func anyOne(ws []string) []string {
	for i, w := range ws {
		p, g := pluralOf[w], genrePlural[w]
		if p == "" && g == "" {
			continue
		}
		next := ""
		if i+1 < len(ws) {
			next = ws[i+1]
		}
		switch {
		case p != "" && describing[next] && (i == 0 || determined(ws[:i])):
		case g != "" && !kindWord(next) && (next == "by" || longDecade(next) || i > 0 && timeWord(ws[i-1]) || describing[next] && (i == 0 || ws[i-1] == "a" || ws[i-1] == "an")):
			p = g
		default:
			return ws // the first kind only
		}
		out := slices.Clone(ws)
		out[i] = p
		for j := i - 1; j >= 0 && j >= i-3; j-- { // "a podcasts about space": the "a" goes with the singular
			if out[j] == "a" || out[j] == "an" {
				return append(out[:j], out[j+1:]...)
			}
		}
		return out
	}
	return ws
}

// determined reports whether the words before a kind, at most three, start
// with "a", "an" or "any" and hold no rank: "a show like…", not "the last
// song by…", "scary movie with…".
func determined(before []string) bool {
	for j := len(before) - 1; j >= 0 && j >= len(before)-3; j-- {
		switch w := before[j]; {
		case w == "a" || w == "an" || w == "any":
			return true
		case orderWords[w] || ordinalValue(w) > 0:
			return false
		}
	}
	return false
}

// genrePlural maps the genres one counts to their plural.
var genrePlural = map[string]string{
	"comedy": "comedies", "drama": "dramas", "thriller": "thrillers", "western": "westerns", "musical": "musicals",
	"romcom": "romcoms", "romance": "romances", "mystery": "mysteries", "biopic": "biopics", "documentary": "documentaries",
	"cartoon": "cartoons", "sitcom": "sitcoms", "blockbuster": "blockbusters",
}

// pluralOf maps the words of things one counts to their plural (not a
// genre's: "horror from the 1960s" is no horrors).
var pluralOf = map[string]string{
	"movie": "movies", "film": "films", "flick": "flicks", "show": "shows", "documentary": "documentaries",
	"podcast": "podcasts", "song": "songs", "album": "albums", "cartoon": "cartoons", "sitcom": "sitcoms",
	"biopic": "biopics", "trailer": "trailers", "playlist": "playlists", "audiobook": "audiobooks",
}

// requestAt returns the length of the request phrase ws starts with; 0
// when none.
func requestAt(ws []string) int {
	for _, r := range requests {
		if len(ws) > len(r) && slices.Equal(ws[:len(r)], r) {
			return len(r)
		}
	}
	for _, t := range leadTitles {
		if len(ws) >= len(t) && slices.Equal(ws[:len(t)], t) {
			return 0
		}
	}
	for _, l := range leads {
		if n := len(l.words); len(ws) >= n+l.after && slices.Equal(ws[:n], l.words) && leadsTo(ws[n:]) {
			return n
		}
	}
	if len(ws) > 3 && ws[0] == "show" && ws[1] == "me" && likeWords[ws[2]] && (ws[3] == "like" || ws[3] == "with" || ws[3] == "by" || ws[3] == "similar") {
		return 2
	}
	return 0
}
