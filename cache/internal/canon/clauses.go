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
	if (verb == "make" || verb == "made") && musicKinds[kind[len(kind)-1]] { // "what albums did radiohead make": by them; an actor "makes" movies too
		rel, ok = []string{"by"}, true
	}
	if !ok || len(name) == 0 || len(name) > 4 || slices.ContainsFunc(name, func(w string) bool { return !nameWord(w) || kindWord(w) }) {
		return ws
	}
	return append(append(append(kind, rel...), name...), when...)
}

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
