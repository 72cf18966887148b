package canon

import (
	"slices"
	"strings"
)

// questions writes a question about who made or is in things as the
// query it asks: "what movies has greta gerwig directed" is "movies by
// greta gerwig", "which audiobooks does tom hanks narrate" "audiobooks
// narrated by tom hanks", "which korean movies won an oscar" "korean
// movies that won an oscar".
func questions(ws []string) []string {
	if len(ws) < 3 || ws[0] != "what" && ws[0] != "which" {
		return ws
	}
	k := 1 // the kind, after at most two words that say what kind
	for k < len(ws) && k < 3 && !kindWord(ws[k]) {
		k++
	}
	if k >= len(ws) || !kindWord(ws[k]) || slices.ContainsFunc(ws[1:k], func(w string) bool { return !nameWord(w) }) {
		return ws
	}
	for k+1 < len(ws) && kindWord(ws[k+1]) {
		k++
	}
	kind, rest := slices.Clip(ws[1:k+1]), ws[k+1:]
	if len(rest) > 1 && (rest[0] == "won" || rest[0] == "have" && rest[1] == "won") {
		return append(append(kind, "that"), rest...)
	}
	if last := kind[len(kind)-1]; len(rest) > 1 && len(rest) <= 5 && (rest[0] == "star" || rest[0] == "feature") && (strings.HasSuffix(last, "s") || last == "anime") && !slices.ContainsFunc(rest[1:], func(w string) bool { return !nameWord(w) || kindWord(w) }) { // "which movies star tom hanks"; not "which movie star died"
		return append(append(kind, "with"), rest[1:]...)
	}
	if len(rest) < 3 || !auxiliaries[rest[0]] {
		return ws
	}
	var when []string // "what albums did radiohead make in the 90s": a time after the verb
	if t := rest[len(rest)-1]; timeWord(t) && len(rest) > 3 {
		when, rest = rest[len(rest)-1:], rest[:len(rest)-1]
	}
	verb := rest[len(rest)-1]
	name := rest[1 : len(rest)-1]
	if verb == "in" { // "starred in", "been in"
		verb, name = rest[len(rest)-2], rest[1:len(rest)-2]
	}
	rel, ok := makes[verb]
	if (verb == "make" || verb == "made") && (musicKinds[kind[len(kind)-1]] || makerOf(strings.Join(name, " "), kind[len(kind)-1])) { // "what albums did radiohead make", "what films has wes anderson made": by them; an actor "makes" movies too
		rel, ok = []string{"by"}, true
	}
	if !ok || len(name) == 0 || len(name) > 4 || slices.ContainsFunc(name, func(w string) bool { return !nameWord(w) || kindWord(w) }) {
		return ws
	}
	return append(append(append(kind, rel...), name...), when...)
}

// frames writes the questions that only frame what they ask for as it:
// "where can i watch X", "where is X streaming" are "where to watch X";
// "who is in the cast of X" and "cast of X" are "X cast", "who sings X"
// "X singer", "runtime of X" "X runtime", "when does X come out" "X
// release date" (in the present only: "who sang at the super bowl" were
// others); "what documentaries are there about space" is
// "documentaries about space", "what movies can i watch on hulu" "movies
// on hulu" (a platform); and a kind that "came out in 2023" is of 2023.
func frames(ws []string) []string {
	if len(ws) > 4 && ws[0] == "whats" && ws[1] == "the" && factOf[ws[2]] && ws[3] == "of" { // "whats the runtime of X"
		ws = ws[2:]
	} else if len(ws) > 5 && ws[0] == "what" && ws[1] == "is" && ws[2] == "the" && factOf[ws[3]] && ws[4] == "of" {
		ws = ws[3:]
	}
	if len(ws) < 3 {
		return ws
	}
	switch w0, w1, w2 := ws[0], ws[1], ws[2]; {
	case w0 == "where" && (w1 == "can" || w1 == "do" || w1 == "could") && (w2 == "i" || w2 == "you" || w2 == "we") && len(ws) > 4 && viewing[ws[3]]:
		return append([]string{"where", "to", "watch"}, ws[4:]...)
	case w0 == "where" && w1 == "to" && viewing[w2] && len(ws) > 3:
		return append([]string{"where", "to", "watch"}, ws[3:]...)
	case w0 == "where" && w1 == "is" && len(ws) > 3 && ws[len(ws)-1] == "streaming":
		return append([]string{"where", "to", "watch"}, ws[2:len(ws)-1]...)
	case w0 == "who" && w1 == "is" && w2 == "in" && len(ws) > 6 && ws[3] == "the" && ws[4] == "cast" && ws[5] == "of": // not "who is in queen" (a band), "who was in…"
		return append(slices.Clip(ws[6:]), "cast")
	case w0 == "cast" && w1 == "of":
		return append(slices.Clip(ws[2:]), "cast")
	case w0 == "runtime" && w1 == "of": // "runtime of oppenheimer"
		return append(slices.Clip(ws[2:]), w0)
	case w0 == "who" && w1 == "sings": // now: "who sang at the super bowl" is another
		return append(slices.Clip(ws[2:]), "singer")
	case w0 == "when" && (w1 == "does" || w1 == "do" || w1 == "will") && len(ws) > 4 && ws[len(ws)-2] == "come" && ws[len(ws)-1] == "out": // "when does X come out"
		return append(slices.Clip(ws[2:len(ws)-2]), "release", "date")
	case w0 == "when" && (w1 == "is" || w1 == "are") && len(ws) > 4 && ws[len(ws)-2] == "coming" && ws[len(ws)-1] == "out":
		return append(slices.Clip(ws[2:len(ws)-2]), "release", "date")
	}
	out := ws
	if ws[0] == "what" || ws[0] == "which" {
		k := slices.IndexFunc(ws[1:min(len(ws), 4)], kindWord) + 1
		for k > 0 && k+1 < len(ws) && kindWord(ws[k+1]) {
			k++
		}
		if k > 0 && !slices.ContainsFunc(ws[1:k], func(w string) bool { return !nameWord(w) }) {
			switch next, after := at(ws, k+1), at(ws, k+2); {
			case (next == "came" || next == "come") && after == "out" && (timeWord(at(ws, k+3)) || at(ws, k+3) == "in" && timeWord(at(ws, k+4))): // "what horror movies came out in 2023"; not "what movies came out on netflix"
				out = append(slices.Clip(ws[1:k+1]), ws[k+3:]...)
			case (next == "were" || next == "was") && timeWord(after): // "which albums were released in 1994", as normalise leaves it
				out = append(slices.Clip(ws[1:k+1]), ws[k+2:]...)
			case (next == "are" || next == "is") && after == "there": // "what documentaries are there about space"
				out = append(slices.Clip(ws[1:k+1]), ws[k+3:]...)
			case (next == "can" || next == "should") && (after == "i" || after == "we") && viewing[at(ws, k+3)] && at(ws, k+4) == "on" && platformAt(ws[k+5:]): // "what movies can i watch on hulu"; not "… on a plane"
				out = append(slices.Clip(ws[1:k+1]), ws[k+4:]...)
			}
		}
	}
	for i := 1; i+2 < len(out); i++ { // "that came out in 2023": of 2023, as "released in 2023" is
		if (out[i] == "came" || out[i] == "come") && out[i+1] == "out" && timeWord(out[i+2]) {
			j := i
			if (out[i-1] == "that" || out[i-1] == "which") && i > 1 { // "movies that came out in 1999"; not "athletes who came out in 2014"
				j--
			}
			if !kindWord(out[j-1]) {
				continue
			}
			out = append(slices.Clip(out[:j]), out[i+2:]...)
			break
		}
	}
	return out
}

// factOf are the facts of a title a question asks for ("whats the runtime
// of X").
var factOf = map[string]bool{"runtime": true, "cast": true}

// viewing are the verbs of watching a thing, where a question asks where.
var viewing = map[string]bool{"watch": true, "stream": true} // not "see": "where can i see hamilton" may be on stage

// auxiliaries are the verbs a question asks with: "has", "did".
var auxiliaries = map[string]bool{"has": true, "have": true, "did": true, "does": true, "do": true}

// makes are what a verb says of a name and a thing, as a query writes it.
var makes = func() map[string][]string {
	m := map[string][]string{}
	for _, line := range []string{"direct directed release released record recorded=by",
		"narrate narrated=narrated by", "write wrote written=written by", "produce produced=produced by",
		"star starred appear appeared been=with", "host hosted=hosted by", "voice voiced=voiced by",
		"create created=created by",
		"compose composed=composed by"} {
		verbs, rel, _ := strings.Cut(line, "=")
		for _, v := range strings.Fields(verbs) {
			m[v] = strings.Fields(rel)
		}
	}
	return m
}()

// relatives writes the relative clauses that say no more than a
// participle or a preposition: "a boy who is raised by wolves" is "a boy
// raised by wolves", "albums that were released in 1997" "albums released
// in 1997", "anime that has a female lead" "anime with a female lead",
// "movies which star denzel washington" "movies with denzel washington",
// "movies in which the dog dies" "movies where the dog dies".
func relatives(ws []string) []string {
	var out []string
	for i := 0; i < len(ws); i++ {
		w, next, after := ws[i], at(ws, i+1), at(ws, i+2)
		switch {
		case i == 0: // a text that starts with "who" or "which" asks: "who starred in titanic" is no relative clause
			out = append(out, w)
		case relative[w] && copulas[next] && (participle(after) || describing[after] || negations[after] || timeWord(after) || after == "set" || after == "based"):
			i++
		case (w == "that" || w == "which") && (next == "has" || next == "have") && after != "been" && after != "won":
			out = append(out, "with")
			i++
		case relative[w] && (next == "star" || next == "stars" || next == "starred"):
			out = append(out, "with")
			i++
			if after == "in" {
				i++
			}
		case w == "in" && next == "which":
			out = append(out, "where")
			i++
		default:
			out = append(out, w)
		}
	}
	return out
}

// relative are the words that start a relative clause.
var relative = map[string]bool{"that": true, "which": true, "who": true}

// copulas are the forms of "be" a relative clause goes on with.
var copulas = map[string]bool{"is": true, "are": true, "was": true, "were": true, "got": true}

// participle reports whether w looks like a past participle: "raised",
// "filmed", "released".
func participle(w string) bool { return len(w) > 4 && strings.HasSuffix(w, "ed") && !describing[w] }

// at returns ws[i], or "" past its end.
func at(ws []string, i int) string {
	if i < len(ws) {
		return ws[i]
	}
	return ""
}
