package canon

import "slices"

// Singulars: where the guards read a singular kind as its plural, because
// no title hides in it.

// countless writes in the plural the kinds of thing that a singular asks
// for as the plural does, when no title hides in the singular: "comedy
// podcast" is "comedy podcasts", "courtroom drama" "courtroom dramas",
// "christmas album" "christmas albums", "documentary about bees"
// "documentaries about bees"; "horror movie" and "racing game" after a
// genre that makes no title with them, in a text with no year;
// not "Bee Movie", "Scary Movie", "That '70s Show", "Love Song", "Squid
// Game", "Thriller", whose kinds are left as written. The guards make it
// before the relations are read (written: a singular first, before a
// relation, is read only there), and after, for what they moved; the
// canonical form, which has no vector to confirm it, keeps a singular
// apart but where "any one of a kind" and a platform, an audience or a
// country before it say otherwise.
func countless(ws []string, written bool) []string {
	var out []string
	for i, w := range ws {
		p := safePlural[w]
		switch {
		case written && i > 0 && p != "": // "jazz documentary" may be Ken Burns's "Jazz": not "documentaries about jazz"
			continue
		case i == 0 || p == "" && (!plainSingular(w, ws[i-1]) || slices.ContainsFunc(ws, timeWord)): // "1917 war movie", "war movie 1917" are "1917"
			if p == "" || w == "special" || len(ws) < 3 || !relationStarts[ws[1]] || !written && ws[1] != "from" && ws[1] != "for" && ws[1] != "in" { // "documentary about the beatles" as written, "korean drama" as relations write it; not "jazz documentary" (Ken Burns's "Jazz")
				continue
			}
		case i+1 < len(ws) && kindWord(ws[i+1]) || !plainBefore(ws[max(0, i-4):i]):
			continue
		}
		if p == "" {
			p = singularOf[w]
		}
		if out == nil {
			out = slices.Clone(ws)
		}
		out[i] = p
	}
	if out == nil {
		return ws
	}
	return out
}

// relationStarts are the words that start what relations write after a
// kind: "documentary about the beatles".
var relationStarts = map[string]bool{"about": true, "from": true, "for": true, "in": true,
	"by": true, "with": true, "narrated": true, "hosted": true, "set": true} // "starring" is "with" by then

// singularOf are the kinds of thing whose singular names a title after
// some words, and their plurals.
var singularOf = map[string]string{"movie": "movies", "show": "shows", "game": "games", "album": "albums"}

// plainSingular reports whether a singular kind with a title in some
// uses (singularOf) asks for any of its kind after the word before: an
// album after a style of music ("christmas album"); a movie or a show
// after a genre that makes no title with it ("horror movie", "comedy
// show"; not "Superhero Movie"; nor after a subject: "Titanic movie",
// "Alien movie", "The Bear show" are one each); a game after a kind of
// game ("racing game"; not "Squid Game", "War Games", "sports game").
func plainSingular(w, before string) bool {
	switch w {
	case "album":
		return musicStyles[before]
	case "movie", "show":
		return isCategory(before) && !titledKinds[before+" "+w]
	case "game":
		return gameGenres[before] && before != "open" && !titledKinds[before+" "+w]
	}
	return false
}

// titledKinds are the genres and subjects that make a title with a
// singular kind.
var titledKinds = map[string]bool{"bee movie": true, "scary movie": true, "disaster movie": true, "epic movie": true,
	"date movie": true, "superhero movie": true, "lego movie": true, "home movie": true, "dance movie": true,
	"monster movie": true, "spy movie": true, "animal movie": true, "cat movie": true, "sports game": true,
	"party game": true, "music movie": true, "horror show": true}

// plainBefore reports whether the words before a singular kind say what
// kind of it, and not which one: the word just before is a genre, a
// country, a language, a platform, an audience, a known subject, and no
// "the", rank, ordinal or "only" comes before it ("the best album of 2023",
// "the daily podcast", "serial podcast" name one). countless passes it the
// four words before the kind at most.
func plainBefore(ws []string) bool {
	last := ws[len(ws)-1]
	if _, subject := subjectForms[last]; !isCategory(last) && !subject && !musicStyles[last] && countries[last] == "" &&
		!languages[last] && !platforms[last] && !audiences[last] && !timeWord(last) && !gameGenres[last] {
		return false
	}
	for _, w := range ws {
		if w == "the" || w == "only" || w == "new" || orderWords[w] || ordinalValue(w) > 0 || ranks[w] {
			return false
		}
	}
	return true
}

// safePlural are the kinds whose singular names no well-known title alone.
var safePlural = map[string]string{"podcast": "podcasts", "audiobook": "audiobooks", "documentary": "documentaries",
	"special": "specials", "drama": "dramas", "cartoon": "cartoons", "sitcom": "sitcoms", "biopic": "biopics",
	"romcom": "romcoms", "playlist": "playlists"}
