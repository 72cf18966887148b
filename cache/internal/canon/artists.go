package canon

import (
	"strings"
	"unicode"
)

// Makers of music, and of podcasts: a name before songs or albums is who
// made them, as "by" says after them.

// musicKinds are the kinds of thing whose makers are named before them:
// "drake songs" are songs by Drake, not songs he is featured in.
var musicKinds = map[string]bool{"song": true, "songs": true, "album": true, "albums": true, "music": true,
	"soundtrack": true, "soundtracks": true, "discography": true, "specials": true}

// podcastOf is the mark a name before podcasts takes: a podcast's host or
// its subject ("joe rogan podcasts", "taylor swift podcasts"), neither who
// is in it ("featuring") nor, surely, who made it ("by"). No text a user
// types holds it.
const podcastOf = "@of"

// artists rewrites a query that starts with names before a kind of music
// ("drake songs featuring rihanna") as what it says, the kind first and
// its maker after "by" ("songs by drake featuring rihanna"), so that the
// names keep their roles: elsewhere a name before the kind is taken for
// who is in it ("tom hanks comedies" are "comedies with tom hanks").
func artists(words []string) []string {
	kind := kinds(words)
	i := 0 // the names start after the years and decades ("1996 hip hop albums")
	for i < len(words) && timeWord(words[i]) {
		i++
	}
	j := i
	lettered := false
	for j < len(words) && !kind[j] {
		w := words[j]
		switch {
		case (w == "the" || w == "of") && j > i && j+1 < len(words) && !kind[j+1], w == "the" && j == i: // "kings of leon", "the 1975"
		case nameWord(w) && !musicGenres[w] && !connectors[w] && !audiences[w]:
			lettered = true
		case numeral(w) && !timeWord(w) || year(w) && j > i && words[j-1] == "the": // "maroon 5", "u2", "the 1975"
			lettered = lettered || strings.IndexFunc(w, unicode.IsLetter) >= 0 || words[i] == "the"
		default:
			return words
		}
		j++
	}
	if !lettered {
		return words
	}
	k := j
	for k < len(words) && kind[k] {
		k++
	}
	podcasts := words[k-1] == "podcasts" || words[k-1] == "podcast"
	if j == i || j == len(words) || !musicKinds[words[k-1]] && !podcasts && !makerOf(strings.Join(words[i:j], " "), words[k-1]) {
		return words
	}
	out := make([]string, 0, len(words)+1)
	out = append(out, words[:i]...)
	out = append(out, words[j:k]...)
	if podcasts {
		out = append(out, podcastOf)
	} else {
		out = append(out, "by")
	}
	out = append(out, words[i:j]...)
	return append(out, words[k:]...)
}

// musicGenres are words before "songs" or "albums" that say what kind of
// music, not who made it: "jazz albums" are not albums by Jazz.
var musicGenres = wordSet("jazz rock pop kpop jpop hiphop hip hop rap metal country classical blues punk folk soul " +
	"reggae disco techno house edm lofi lo fi indie grunge gospel opera funk trap dance electronic ambient " +
	"christmas holiday love sad happy workout party study summer acoustic instrumental live greatest best new old " +
	"latin afrobeat afrobeats reggaeton salsa bossa nova swing bluegrass rnb emo ska")
