package canon

import (
	"slices"
)

// possessives writes the possessives before the kind of thing asked for
// (at the indexes marks gives, already without their "'s"; -1-i for a
// plural's "s'", as in "the beatles'") as what they
// say: their maker's work, "by" ("adele's first album", "nolan's new
// movie" are "first album by adele", "new movie by nolan"; an artist's
// albums and songs, a known maker's films), a show's episodes, "of" ("the
// simpsons' best episodes"); another name's, the name before the kind
// ("tom hanks's movies" are "tom hanks movies"). Elsewhere the "'s" is
// kept, as a title writes it ("schindler's list", "ocean's eleven").
func possessives(ws []string, marks []int) []string {
	for m := len(marks) - 1; m >= 0; m-- {
		i, plural := marks[m], false
		if i < 0 {
			i, plural = -1-i, true
		}
		k := i + 1 // the kind, after at most two words that say which
		ranked := true
		for k < len(ws) && k <= i+3 && !kindWord(ws[k]) && (nameWord(ws[k]) || ordinalValue(ws[k]) > 0 || possessiveRanks[ws[k]]) {
			_, subject := subjectForms[ws[k]]
			ranked = ranked && (possessiveRanks[ws[k]] || ordinalValue(ws[k]) > 0 || isCategory(ws[k]) || subject || platforms[ws[k]])
			k++
		}
		for k+1 < len(ws) && kindWord(ws[k]) && kindWord(ws[k+1]) { // "spielberg's war movies": the whole kind
			k++
		}
		if k >= len(ws) || k > i+4 || !kindWord(ws[k]) {
			if !plural {
				ws[i] += "s" // not before a kind: as written ("schindlers list")
			}
			continue
		}
		start := i // the name: at most three words, back to a word no name has
		for start > 0 && i-start < 2 && !notName[ws[start-1]] && nameWord(ws[start-1]) {
			start--
		}
		rel := ""
		switch {
		case counted[ws[k]]:
			rel = "of"
		case !ranked || audiences[ws[i]] || audienceOf[ws[i]] != "" || ws[i] == "women" || ws[i] == "men": // "tarantino's favorite movies", "children's songs"
		case musicKinds[ws[k]]:
			rel = "by"
		default:
			for s := start; s <= i && rel == ""; s++ {
				if n, l := alias(ws[s : i+1]); l == i+1-s && makerOf(n, ws[k]) {
					rel, start = "by", s
				}
			}
		}
		if start > 0 && ws[start-1] == "the" { // "the beatles' last album": by the beatles
			start--
		}
		if rel == "" || len(marks) > 1 { // one possessive rewrites: "bob marley's son's songs" stay as written
			if !ranked && !plural || rel != "" && !plural { // "schindler's list movie": as written
				ws[i] += "s"
			}
			continue // "tom hanks's movies": the name before the kind
		}
		out := slices.Clip(ws[:start])
		out = append(out, ws[i+1:k+1]...)
		out = append(out, rel)
		out = append(out, ws[start:i+1]...)
		ws = append(out, ws[k+1:]...)
	}
	return ws
}

// possessiveRanks are the words that may come between a possessive and
// the kind it makes: "adele's latest album".
var possessiveRanks = map[string]bool{"latest": true, "newest": true, "new": true, "last": true, "debut": true,
	"best": true, "greatest": true, "early": true, "recent": true, "final": true, "upcoming": true, "next": true,
	"top": true, "worst": true, "live": true, "studio": true, "short": true}

// notName are the words a name before a possessive does not take: "show
// me adele's albums" is adele's.
var notName = wordSet("me you i find show play recommend want need some any the a an of by with from for " +
	"all every and what which whats are is on in to listen hear watch see like about get give please")
