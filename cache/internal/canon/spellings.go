package canon

import (
	"slices"
	"strconv"
)

// respell writes the spellings of one meaning that take more than a word
// as relax's other rules read them (the words normalised):
//
//   - a bound on a count: "less than", "fewer than", "shorter than" 90 are
//     "under 90", "more than" and "longer than" "over" (not before other
//     words: "Less Than Zero", "More Than a Feeling"); "an hour" after a
//     bound is 60 minutes, "an hour and a half" 90; "long" after a length
//     goes ("90 minutes long"), and "min" and "hrs" after a bound and a
//     number are minutes and hours ("60 Minutes" is a show);
//   - "ep" before a number is an episode (an EP is a record too);
//   - a range of years: "between 1980 and 1989" and "1980-1989" are "1980
//     to 1989";
//   - ordinals: "first season" is "season 1", "twenty-first" "21st",
//     "second world war" "world war 2"; "s8 e3" is season 8, episode 3;
//   - services and devices: "amazon prime (video)" is "prime video", and
//     "switch" beside games the Nintendo Switch;
//   - "series" where it is a show's ("crime series", "series like
//     succession"), and "take place" in a place, "set";
//   - languages of dubs and subtitles: "english dubbed", "english dub"
//     are "dubbed in english", "english subtitles" and "eng subs"
//     "subtitled in english".
func respell(ws []string) []string {
	ws = clauses(ws)
	games := false
	for _, w := range ws {
		games = games || w == "games" || w == "game"
	}
	out := make([]string, 0, len(ws)+2)
	for i := 0; i < len(ws); i++ {
		w, next := ws[i], at(ws, i+1)
		switch {
		case (w == "less" || w == "fewer" || w == "shorter") && next == "than" && countAt(ws[i+2:]):
			out = append(out, "under")
			i++
		case (w == "more" || w == "longer") && next == "than" && countAt(ws[i+2:]):
			out = append(out, "over")
			i++
		case (w == "an" || w == "one") && next == "hour" && len(out) > 0 && bounds[out[len(out)-1]]:
			if at(ws, i+2) == "and" && at(ws, i+3) == "a" && at(ws, i+4) == "half" {
				out = append(out, "90", "minutes")
				i += 4
				break
			}
			out = append(out, "60", "minutes")
			i++
		case w == "long" && len(out) > 0 && lengths[out[len(out)-1]]:
		case shortUnits[w] != "" && len(out) > 1 && digits(out[len(out)-1]) && bounds[out[len(out)-2]]: // "under 90 min"; not "60 Minutes", a show
			out = append(out, shortUnits[w])
		case w == "written" && next == "by" && len(out) > 0 && kindMakes(out[len(out)-1]) == workBooks: // "audiobooks written by X" are by X; a movie's writer is not its maker
		case (w == "ep" || w == "eps") && (digits(next) || len(out) > 1 && out[len(out)-2] == "season"): // "ep 1000"; an EP is a record too
			out = append(out, "episode")
		case w == "between" && year(next) && at(ws, i+2) == "and" && year(at(ws, i+3)):
			out = append(out, next, "to", at(ws, i+3))
			i += 3
		case ordinalValue(w) > 0 && (next == "season" || next == "episode"):
			out = append(out, next, strconv.Itoa(ordinalValue(w)))
			i++
		case tensWords[w] > 0 && ordinalValue(next) > 0 && ordinalValue(next) < 10:
			out = append(out, ordinal(tensWords[w]+ordinalValue(next)))
			i++
		case (w == "first" || w == "second") && next == "world" && at(ws, i+2) == "war":
			out = append(out, "world", "war", strconv.Itoa(ordinalValue(w)))
			i += 2
		case len(w) >= 2 && len(w) <= 4 && w[0] == 'e' && digits(w[1:]) && len(out) >= 2 && out[len(out)-2] == "season":
			n, _ := strconv.Atoi(w[1:])
			out = append(out, "episode", strconv.Itoa(n))
		case w == "nineteen" && longDecade(next) && next[:2] == "19": // "nineteen-nineties"
		case ((w == "nineteen" || w == "twenty") && tensWords[next] > 0 || w == "twenty" && next == "twenty") && len(out) > 0 && timePrepositions[out[len(out)-1]]: // "from nineteen ninety-nine", "in twenty twenty": a year; not "twenty twenty cricket"
			y := 1900
			if w == "twenty" {
				y = 2000
			}
			y += tensWords[next]
			if next == "twenty" {
				y = 2020
			}
			i++
			if u := at(ws, i+1); spelled[u] != "" && digits(spelled[u]) && len(spelled[u]) == 1 {
				n, _ := strconv.Atoi(spelled[u])
				y += n
				i++
			}
			for len(out) > 0 && (out[len(out)-1] == "from" || out[len(out)-1] == "in" || out[len(out)-1] == "of" || out[len(out)-1] == "released") { // as normalise drops them before a year
				out = out[:len(out)-1]
			}
			out = append(out, strconv.Itoa(y))
		case (w == "pre" || w == "post") && year(next) && (i == 0 || ws[i-1] != "the"): // "pre-1960": before 1960; not "the post 2017", a title
			out = append(out, map[string]string{"pre": "before", "post": "after"}[w])
		case (w == "made" || w == "released" || w == "from") && (next == "before" || next == "after") && year(at(ws, i+2)): // "films made before 1960"
		case w == "half" && next == "an" && at(ws, i+2) == "hour" && len(out) > 0 && bounds[out[len(out)-1]]: // "under half an hour"
			out = append(out, "30", "minutes")
			i += 2
		case w == "video" && next == "games" && (i == 0 || modifierWord(ws[i-1])) && (at(ws, i+2) == "" || describing[at(ws, i+2)] || at(ws, i+2) == "based"): // "video games based on movies"; not "olympic video games", "video game shows"
		case w == "no" && digits(next) && i > 0: // "symphony no. 5": number 5
			out = append(out, "number")
		case w == "debut" && pluralOf[next] != "": // "debut album": first album
			out = append(out, "first")
		case w == "la" && len(out) > 0 && out[len(out)-1] == "in": // "set in la"
			out = append(out, "los", "angeles")
		case w == "read" && next == "by" && (slices.Contains(ws, "audiobooks") || slices.Contains(ws, "audiobook")): // "audiobooks read by"
			out = append(out, "narrated")
		case w == "with" && next == "narration" && at(ws, i+2) == "by": // "with narration by"
			out = append(out, "narrated")
			i++
		case w == "subtitled" && i+1 < len(ws) && !slices.ContainsFunc(ws[i+1:], func(w string) bool { return !kindWord(w) }): // "subtitled movies"
			out = append(append(out, ws[i+1:]...), "with", "subtitles")
			i = len(ws)
		case w == "all" && next == "the" && slices.ContainsFunc(ws[i+2:min(len(ws), i+6)], func(w string) bool { return kindWord(w) && pluralOf[w] == "" }): // "all the harry potter films"
			out = append(out, "all")
			i++
		case w == "got" && (next == "season" || seasonToken(next) > 0) && i == 0: // "got season 3"
			out = append(out, "game", "of", "thrones")
		case w == "both" && nameWord(next) && slices.Contains(ws[i+1:], "and"): // "with both de niro and pacino"
		case w == "every" && everyKind(ws[i+1:]):
			out = append(out, "all") // "every pixar movie": all pixar movies
			for j := i + 1; j < min(i+4, len(ws)); j++ {
				if p := pluralOf[ws[j]]; p != "" {
					out = append(out, p)
					i = j
					break
				}
				out = append(out, ws[j])
			}
		case w == "records" && i > 0 && musicGenres[ws[i-1]]: // "jazz records"
			out = append(out, "albums")
		case w == "music" && i > 0 && plainGenres[ws[i-1]] && (i+1 == len(ws) || !kindWord(next)): // "disco music" is disco
		case w == "series" && (i > 0 && modifierWord(ws[i-1]) && !bookGenres[ws[i-1]] || showLike[next]) && !slices.ContainsFunc(ws, notShows): // "series like X", "crime series", "brazilian series": shows; not "series by brandon sanderson", "game series like halo"
			out = append(out, "shows")
		case (w == "take" || w == "takes" || w == "taking") && next == "place" && at(ws, i+2) == "in":
			out = append(out, "set")
			i++
		case w == "amazon" && next == "prime":
			out = append(out, "prime", "video")
			i++
			if at(ws, i+1) == "video" {
				i++
			}
		case w == "switch" && games && (len(out) == 0 || out[len(out)-1] != "nintendo"):
			out = append(out, "nintendo", "switch")
		case (languages[w] || w == "eng") && (next == "dubbed" || next == "dub" || next == "dubs"):
			if rest := ws[i+2:]; len(rest) > 0 && !slices.ContainsFunc(rest, func(w string) bool { return !kindWord(w) }) { // "english dubbed anime": anime dubbed in english
				out = append(out, rest...)
				i = len(ws)
			} else {
				i++
			}
			out = append(out, "dubbed", "in", language(w))
		case seasonToken(w) > 0 && len(next) >= 2 && len(next) <= 4 && next[0] == 'e' && digits(next[1:]): // "s8 e3"
			n, _ := strconv.Atoi(next[1:])
			out = append(out, "season", strconv.Itoa(seasonToken(w)), "episode", strconv.Itoa(n))
			i++
		case (languages[w] || w == "eng") && (next == "subtitles" || next == "subs" || next == "subtitled"):
			out = append(out, "subtitled", "in", language(w))
			i++
		default:
			out = append(out, w)
		}
	}
	return makerLast(seasonLast(out))
}

// makerLast writes a known maker named after the kind of thing asked for,
// with no word between, as "by" them: "sci-fi movies christopher nolan",
// "samurai films kurosawa".
func makerLast(ws []string) []string {
	for i := len(ws) - 1; i > 0; i-- {
		if !kindWord(ws[i-1]) {
			continue
		}
		if factKinds[ws[i-1]] { // "documentary tarantino", "biopic hitchcock": about them
			return ws
		}
		if name, n := alias(ws[i:]); n == len(ws)-i && makerOf(name, ws[i-1]) {
			return append(slices.Clip(ws[:i]), append([]string{"by"}, ws[i:]...)...)
		}
		return ws
	}
	return ws
}

// timePrepositions are the words before a year in words: "from nineteen
// ninety-nine".
var timePrepositions = map[string]bool{"from": true, "in": true, "of": true, "released": true, "during": true,
	"since": true, "before": true, "after": true}

// seasonLast writes "season 3 of the mandalorian" as "the mandalorian
// season 3", the order the guards compare.
func seasonLast(ws []string) []string {
	if len(ws) < 4 || !counted[ws[0]] || !digits(ws[1]) || ws[2] != "of" {
		return ws
	}
	rest := ws[3:]
	if slices.ContainsFunc(rest, func(w string) bool { return !nameWord(w) && !function[w] }) {
		return ws
	}
	return append(slices.Clip(rest), ws[0], ws[1])
}

// everyKind reports whether ws, after "every", are at most two words that
// say what kind ("pixar") and a thing one counts: "every pixar movie";
// not "Every Day" movie.
func everyKind(ws []string) bool {
	for _, w := range ws[:min(len(ws), 3)] {
		if pluralOf[w] != "" {
			return true
		}
		if _, known := makerSet[w]; !says(w) && !known {
			return false
		}
	}
	return false
}

// modifierWord reports whether w, before a kind, says what kind and is
// no title's word: a category, a time, a country, a language, a platform,
// an audience, a genre of music.
func modifierWord(w string) bool {
	return isCategory(w) || timeWord(w) || countries[w] != "" || languages[w] || platforms[w] || audiences[w] || musicGenres[w]
}

// language returns the language w names ("eng": english).
func language(w string) string {
	if w == "eng" {
		return "english"
	}
	return w
}

// bounds are the words a length may follow: "under an hour".
var bounds = map[string]bool{"under": true, "over": true, "than": true, "below": true, "above": true}

// shortUnits are the units of a length written short.
var shortUnits = map[string]string{"min": "minutes", "mins": "minutes", "hr": "hours", "hrs": "hours"}

// lengths are the units of a length.
var lengths = map[string]bool{"minutes": true, "minute": true, "min": true, "mins": true, "hours": true, "hour": true,
	"hrs": true, "hr": true}

// countAt reports whether ws start with a count of a unit: digits or a
// number in words and a unit ("90 minutes", "12 episodes"), or "an hour";
// not "more than 18 movies", which may be an age.
func countAt(ws []string) bool {
	if len(ws) < 2 {
		return false
	}
	if (digits(ws[0]) || spelled[ws[0]] != "" && digits(spelled[ws[0]])) && units[ws[1]] {
		return true
	}
	return (ws[0] == "an" || ws[0] == "a" || ws[0] == "one") && ws[1] == "hour"
}

// units are what a bound counts.
var units = map[string]bool{"minutes": true, "minute": true, "min": true, "mins": true, "hours": true, "hour": true,
	"hrs": true, "hr": true, "episodes": true, "seasons": true, "pages": true, "parts": true, "chapters": true}

// showLike are the words after "series" that say a show is meant ("series
// like succession"; "series by brandon sanderson" may be books, "series
// with mario" games).
var showLike = map[string]bool{"like": true, "similar": true, "about": true, "set": true, "on": true}

// bookGenres are the genres of book series as much as of shows: "fantasy
// series for teens" may be books.
var bookGenres = map[string]bool{"fantasy": true, "mystery": true, "romance": true, "scifi": true, "thriller": true,
	"horror": true}

// notShows reports whether w says that a series is no show's: "game",
// "book".
func notShows(w string) bool {
	switch w {
	case "game", "games", "book", "books", "novel", "novels", "comic", "comics", "manga", "film", "films", "movie", "movies":
		return true
	}
	return false
}

// ordinalWords are the ordinals in words.
var ordinalWords = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
	"seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}

// tensWords are the tens in words ("twenty" in "twenty-first").
var tensWords = map[string]int{"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
	"eighty": 80, "ninety": 90}

// ordinalValue returns the ordinal w writes ("first", "1st"); 0 for
// another word.
func ordinalValue(w string) int {
	if n, ok := ordinalWords[w]; ok {
		return n
	}
	if ordinalNum(w) {
		n, _ := strconv.Atoi(w[:len(w)-2])
		return n
	}
	return 0
}

// ordinal writes n as an ordinal in digits: 21st, 22nd, 23rd, 24th.
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// won writes "<kind> that won an emmy" as "emmy winning <kind>"; and the
// "that are", "which is" between the kind asked for and what it is ("not
// about war", "about space") go.
func won(ws []string) []string {
	for i := 1; i+2 < len(ws); i++ {
		if ws[i] != "that" && ws[i] != "which" || !kindWord(ws[i-1]) {
			continue
		}
		switch next := ws[i+1]; {
		case next == "won" || next == "have" && ws[i+2] == "won":
			j := i + 2
			if next == "have" {
				j++
			}
			for j < len(ws) && articles[ws[j]] {
				j++
			}
			if j+1 != len(ws) || !nameWord(ws[j]) { // one prize, at the end
				return ws
			}
			start := i - 1
			for start > 0 && kindWord(ws[start-1]) {
				start--
			}
			out := append(slices.Clip(ws[:start]), ws[j], "winning")
			return append(out, ws[start:i]...)
		case (next == "are" || next == "is") && (negations[ws[i+2]] || describing[ws[i+2]]):
			return append(slices.Clip(ws[:i]), ws[i+2:]...)
		}
	}
	return ws
}

// plainGenres are the kinds of music whose name says music alone ("70s
// disco"): not "soul", "house", "country", "rock" or "pop", which say
// other things too.
var plainGenres = map[string]bool{"disco": true, "jazz": true, "blues": true, "funk": true, "techno": true,
	"hiphop": true, "reggae": true, "grunge": true, "punk": true, "classical": true, "gospel": true, "lofi": true,
	"ambient": true, "kpop": true, "jpop": true, "bluegrass": true, "ska": true, "emo": true, "reggaeton": true,
	"afrobeats": true, "fado": true, "flamenco": true, "synthwave": true, "shoegaze": true}

// ratings are the age ratings, as their words.
var ratings = [][]string{{"pg", "13"}, {"nc", "17"}, {"tv", "ma"}, {"tv", "14"}, {"tv", "pg"}, {"pg"}, {"r"}, {"g"}}

// rated writes an age rating as "rated" and the rating, after the kind
// of thing asked for: "r rated horror movies", "pg-13 action movies" and
// "horror movies rated r" are one; ws starts with the rating.
func rated(ws []string) []string {
	for _, r := range ratings {
		n := len(r)
		if len(ws) <= n || !slices.Equal(ws[:n], r) {
			continue
		}
		rest := ws[n:]
		if rest[0] == "rated" {
			rest = rest[1:]
		} else if n == 1 {
			return nil // "r", "g" alone are letters
		}
		if len(rest) == 0 || slices.ContainsFunc(rest, func(w string) bool { return !isCategory(w) }) {
			return nil
		}
		return append(append(slices.Clip(rest), "rated"), r...)
	}
	return nil
}

// clauses writes a clause that only qualifies the thing asked for as the
// word before it: "anime movies that are sad" are "sad anime movies",
// "which documentaries are about space" "documentaries about space"; and
// a rating (rated), a prize (won) and a director ("greta gerwig directed
// movies") where the other spelling writes them.
func clauses(ws []string) []string {
	if r := rated(ws); r != nil {
		return r
	}
	ws = won(questions(relatives(frames(ws))))
	n := len(ws)
	if d := slices.Index(ws, "directed"); d > 0 && d+1 < n && kindWord(ws[d+1]) && !slices.ContainsFunc(ws[:d], func(w string) bool { return !nameWord(w) || kindWord(w) }) {
		return append(append(slices.Clip(ws[d+1:]), "by"), ws[:d]...) // "greta gerwig directed movies": movies by her
	}
	if n > 3 && (ws[0] == "which" || ws[0] == "what") && kindWord(ws[1]) && (ws[2] == "are" || ws[2] == "is") {
		return append([]string{ws[1]}, ws[3:]...)
	}
	if n < 4 || ws[n-3] != "that" && ws[n-3] != "which" || ws[n-2] != "are" && ws[n-2] != "is" || !kindWord(ws[n-4]) {
		return ws
	}
	adj := ws[n-1]
	if !nameWord(adj) || kindWord(adj) || function[adj] || treatments[adj] || adj == "by" || adj == "about" {
		return ws
	}
	start := n - 4 // the start of the words the clause qualifies
	for start > 0 && content(ws[start-1]) && nameWord(ws[start-1]) {
		start--
	}
	out := make([]string, 0, n-2)
	out = append(out, ws[:start]...)
	out = append(out, adj)
	return append(out, ws[start:n-3]...)
}

// seasonToken returns the season "s8" writes; 0 for another word.
func seasonToken(w string) int {
	if len(w) < 2 || len(w) > 3 || w[0] != 's' || !digits(w[1:]) {
		return 0
	}
	n, _ := strconv.Atoi(w[1:])
	return n
}
