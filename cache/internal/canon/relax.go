package canon

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The guards compare texts more loosely than the canonical form: the form
// keys values with no vector to confirm them, the guards judge neighbours
// whose vectors already agree. So they also take as one the spellings
// below, each of which says one thing whatever the query: numbers in
// words and roman numerals, a season written "s4", common abbreviations,
// British and American spellings, compounds written with a hyphen or
// without ("k-pop", "kpop"), "+" and "/" in names, "similar to" and
// "like", "comedy movies" and "comedies"; and the relations a word before
// the kind of thing asked for can only have: a platform ("netflix
// documentaries" are documentaries on Netflix), an audience ("kids
// movies", for kids), a country ("mexican movies", from Mexico), a topic
// for the kinds that have one ("whale documentaries", about whales).

// prepare rewrites the folded text's marks that the rules would not read,
// where they join the parts of a name: "disney+" is "disney plus",
// "florence + the machine" "florence and the machine", "ac/dc" "acdc",
// "u.s." "us"; and "w/" is "with".
// (A hyphen separates words, as in the canonical form: "k-pop" is "k
// pop", which guardCompounds joins, as it joins "k pop".)
func prepare(s string) string {
	if !strings.ContainsAny(s, "+/.") && !strings.Contains(s, "similar to") {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		prev, _ := utf8.DecodeLastRuneInString(s[:i])
		before, _ := utf8.DecodeLastRuneInString(s[:max(i-utf8.RuneLen(prev), 0)])
		next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
		switch {
		case r == '/' && prev == 'w' && !isWordRune(before) && !isWordRune(next): // "w/": with
			b.WriteString("ith")
		case r == '.' && unicode.IsLetter(prev) && !isWordRune(before) && i >= 1 && (next == ' ' || next == utf8.RuneError || unicode.IsLetter(next)):
			// "u.s.", "j.s.": a dotted abbreviation, a letter and a dot each
		case r == '+' && isWordRune(prev) && !isWordRune(next):
			b.WriteString(" plus")
		case r == '+' && prev == ' ' && next == ' ':
			b.WriteString("and")
		case r == '/' && unicode.IsLetter(prev) && unicode.IsLetter(next):
		default:
			b.WriteRune(r)
		}
	}
	return strings.ReplaceAll(b.String(), "similar to", "like")
}

// relax applies the guards' own equivalences to words, the output of
// words: see above.
func relax(ws []string) []string {
	ws = anyOne(respell(joinPairs(ws)))
	out := make([]string, 0, len(ws)+4)
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if name, n := alias(ws[i:]); n > 0 { // "quentin tarantino" is "tarantino"
			out = append(out, strings.Fields(name)...)
			i += n - 1
			continue
		}
		switch {
		case spelled[w] != "" && i == 0 && numberWords[w] && len(ws) > 1 && !slices.ContainsFunc(ws[1:], func(w string) bool { return !kindWord(w) }): // "nine movie" is a title: "Nine", not "9"
			out = append(out, w)
		case spelled[w] != "":
			out = append(out, spelled[w])
		case abbreviations[w] != nil:
			out = append(out, abbreviations[w]...)
		case len(w) > 1 && len(w) <= 3 && w[0] == 's' && digits(w[1:]):
			n, _ := strconv.Atoi(w[1:])
			out = append(out, "season", strconv.Itoa(n))
		case seasonEpisode(w) != nil: // "s05e14"
			out = append(out, seasonEpisode(w)...)
		default:
			out = append(out, w)
		}
	}
	return relations(out)
}

// joinPairs writes the pairs of words of guardCompounds as one, the
// pair a join makes included ("stand up comedy": "standup comedy",
// "standup").
func joinPairs(ws []string) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w)
		for len(out) > 1 {
			c, ok := guardCompounds[[2]string{out[len(out)-2], out[len(out)-1]}]
			if !ok {
				break
			}
			out = append(out[:len(out)-2], c...)
			if len(c) > 1 {
				break
			}
		}
	}
	return out
}

// seasonEpisode returns "s05e14" as season 5, episode 14; nil for
// another word.
func seasonEpisode(w string) []string {
	if len(w) < 4 || len(w) > 7 || w[0] != 's' {
		return nil
	}
	e := strings.IndexByte(w, 'e')
	if e < 2 || e == len(w)-1 || !digits(w[1:e]) || !digits(w[e+1:]) {
		return nil
	}
	s, _ := strconv.Atoi(w[1:e])
	n, _ := strconv.Atoi(w[e+1:])
	return []string{"season", strconv.Itoa(s), "episode", strconv.Itoa(n)}
}

// spelled are the words of one meaning written another way: numbers in
// words and roman numerals (but "i", "v" and "x", which are words too),
// British spellings, short forms.
var spelled = map[string]string{
	"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
	"nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30", "forty": "40",
	"fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",

	"ii": "2", "iii": "3", "iv": "4", "vi": "6", "vii": "7", "viii": "8", "ix": "9",
	"neighbour": "neighbor", "judgement": "judgment", "colour": "color", "favourite": "favorite",
	"theatre": "theater", "centre": "center", "grey": "gray", "honour": "honor", "humour": "humor",
	"programme": "program", "catalogue": "catalog", "travelling": "traveling", "cancelled": "canceled",
	"pls": "please", "plz": "please", "vol": "volume", "ost": "soundtrack", "childrens": "kids", "cosy": "cozy",
	"emmys": "emmy", "oscars": "oscar", "grammys": "grammy", "dr": "doctor", "television": "tv",
	"versus": "vs", "newest": "latest", "motorbikes": "motorcycles", "motorbike": "motorcycle",
	"children": "kids", "teenagers": "teens", "colourful": "colorful", "behaviour": "behavior",
	"jewellery": "jewelry", "organised": "organized", "flavour": "flavor", "rumour": "rumor",
	"harbour": "harbor", "armour": "armor", "defence": "defense", "offence": "offense", "licence": "license",
	"realised": "realized", "recognised": "recognized", "civilisation": "civilization", "dialogue": "dialog",
	"pyjamas": "pajamas", "moustache": "mustache", "sceptical": "skeptical", "aeroplane": "airplane",
	"st": "saint", "osts": "soundtracks", "shounen": "shonen", "shippuuden": "shippuden",
	"excluding": "without",
}

// abbreviations are written out in several words.
var abbreviations = map[string][]string{
	"ww2": {"world", "war", "2"}, "wwii": {"world", "war", "2"}, "ww1": {"world", "war", "1"}, "wwi": {"world", "war", "1"},
	"lotr": {"lord", "of", "the", "rings"}, "mcu": {"marvel", "cinematic", "universe"},
	"ps5": {"playstation5"}, "ps4": {"playstation4"}, "ps3": {"playstation3"},
	"kdramas": {"korean", "dramas"}, "kdrama": {"korean", "drama"}, "ai": {"artificial", "intelligence"},
	"nyc": {"new", "york", "city"},
}

// guardCompounds are pairs of words that are one word, or another pair.
var guardCompounds = map[[2]string][]string{
	{"k", "pop"}: {"kpop"}, {"j", "pop"}: {"jpop"}, {"hip", "hop"}: {"hiphop"}, {"lo", "fi"}: {"lofi"},
	{"playstation", "5"}: {"playstation5"}, {"playstation", "4"}: {"playstation4"}, {"playstation", "3"}: {"playstation3"},
	{"stand", "up"}: {"standup"}, {"standup", "comedy"}: {"standup"}, {"short", "movies"}: {"shorts"},
	{"korean", "pop"}: {"kpop"}, {"j", "horror"}: {"japanese", "horror"}, {"k", "horror"}: {"korean", "horror"},
	{"documentary", "series"}: {"docuseries"}, {"mini", "series"}: {"miniseries"}, {"based", "off"}: {"based", "on"},
	{"motion", "pictures"}: {"movies"}, {"limited", "series"}: {"miniseries"}, {"situation", "comedies"}: {"sitcoms"},
	{"with", "no"}:    {"without"},
	{"set", "during"}: {"set", "in"}, {"released", "by"}: {"by"}, {"for", "sleeping"}: {"for", "sleep"},
	{"for", "studying"}: {"for", "study"}, {"original", "soundtrack"}: {"soundtrack"},
	{"academy", "award"}: {"oscar"}, {"academy", "awards"}: {"oscar"},
	{"co", "op"}: {"coop"}, {"spider", "man"}: {"spiderman"}, {"super", "hero"}: {"superhero"}, {"game", "boy"}: {"gameboy"},
	{"true", "crime"}: {"true", "crime"}, {"rock", "n"}: {"rock", "and"}, {"guns", "n"}: {"guns", "and"},
	{"super", "heroes"}: {"superheroes"}, {"x", "men"}: {"xmen"}, {"wall", "e"}: {"walle"},
	{"science", "fiction"}: {"scifi"}, {"romantic", "comedies"}: {"romcoms"}, {"romantic", "comedy"}: {"romcom"},
	{"k", "dramas"}: {"korean", "dramas"}, {"k", "drama"}: {"korean", "drama"},
	{"made", "by"}: {"by"}, {"from", "director"}: {"by"}, {"by", "director"}: {"by"},
	// A genre and the movies of it: "comedy movies" are comedies.
	{"comedy", "movies"}: {"comedies"}, {"thriller", "movies"}: {"thrillers"},
	{"western", "movies"}: {"westerns"}, {"documentary", "movies"}: {"documentaries"}, {"musical", "movies"}: {"musicals"},
	{"romance", "movies"}: {"romances"}, {"mystery", "movies"}: {"mysteries"}, {"romcom", "movies"}: {"romcoms"},
	{"biopic", "movies"}: {"biopics"}, {"superhero", "movies"}: {"superhero", "movies"},
}

// platforms are where things are watched or played, one word or two.
var platforms = map[string]bool{
	"netflix": true, "hulu": true, "hbo": true, "peacock": true, "youtube": true,
	"crunchyroll": true, "spotify": true, "tubi": true, "showtime": true, "starz": true, "mubi": true, "twitch": true,
	"disney plus": true, "prime video": true, "amazon prime": true, "apple tv": true, "apple tv plus": true,
	"paramount plus": true, "hbo max": true, "amazon prime video": true, "steam": true, "nintendo switch": true,
	"pc": true, "xbox": true, "playstation": true, "playstation5": true, "playstation4": true, "ios": true, "android": true,
	"nintendo switch online": true,
	"pbs":                    true, "bbc": true, "a24": true, "npr": true, "cartoon network": true, "nickelodeon": true, "adult swim": true,
	"national geographic": true, "nat geo": true, "amc": true, "fx": true, "cbs": true, "nbc": true,
	"audible": true, "game pass": true, "xbox game pass": true,
}

// services are the platforms that name nothing else, which may come
// before another word before the kind ("netflix original series"; not
// "steam deck games", "pc building games").
var services = map[string]bool{
	"netflix": true, "hulu": true, "hbo": true, "disney plus": true, "prime video": true, "crunchyroll": true,
	"youtube": true, "playstation5": true, "playstation4": true, "xbox": true, "nintendo switch": true,
	"hbo max": true, "paramount plus": true, "apple tv plus": true, "game pass": true, "xbox game pass": true, "audible": true,
	"spotify": true,
}

// ambiguous are the platforms that are words too ("android movies" are
// about androids, "peacock documentaries" about the bird): compared
// after "on", never moved there.
var ambiguous = map[string]bool{"android": true, "ios": true, "peacock": true, "steam": true}

// platformAfter reports whether ws name a platform after "on" or "for".
func platformAfter(ws []string) bool {
	for i := 0; i+1 < len(ws); i++ {
		if (ws[i] == "on" || ws[i] == "for") && (platforms[ws[i+1]] || i+2 < len(ws) && platforms[ws[i+1]+" "+ws[i+2]]) {
			return true
		}
	}
	return false
}

// networks are the platforms that make what they show: "pbs documentaries"
// are on PBS and from PBS.
var networks = map[string]bool{"pbs": true, "bbc": true, "npr": true, "a24": true}

// gameGenres are the kinds of game a device may come before ("pc coop
// games": on it; not "pc building games").
var gameGenres = map[string]bool{"coop": true, "indie": true, "horror": true, "racing": true, "strategy": true,
	"rpg": true, "shooter": true, "puzzle": true, "platformer": true, "survival": true, "simulation": true,
	"sports": true, "fighting": true, "multiplayer": true, "adventure": true, "action": true, "open": true, "party": true}

// devices are the platforms things run on: "games for ps5" are on it.
var devices = map[string]bool{
	"pc": true, "xbox": true, "playstation": true, "playstation5": true, "playstation4": true, "ios": true,
	"android": true, "nintendo switch": true, "steam": true,
}

// audiences are who a thing is for.
var audiences = map[string]bool{
	"kids": true, "children": true, "adults": true, "teens": true, "teenagers": true, "toddlers": true,
	"families": true, "grownups": true, "preschoolers": true,
}

// audienceOf are the words before the kind that say who it is for, in the
// plural: "adult animated films" are for adults.
var audienceOf = map[string]string{"adult": "adults", "toddler": "toddlers", "preschool": "preschoolers", "teen": "teens",
	"kid": "kids", "childrens": "kids"}

// occasions are what a thing may be for, and no subject of it: "movies
// for date night", "date night movies".
var occasions = map[string]bool{"date night": true, "rainy day": true, "sleep": true, "studying": true,
	"study": true, "workout": true, "running": true, "gym": true, "sleepover": true, "movie night": true,
	"game night": true, "meditation": true, "focus": true, "dinner party": true, "commute": true, "long flight": true}

// countries are the countries of demonyms that name no language of their
// own, or a language spoken in that country alone ("korean movies" are
// from Korea, as "movies in korean" need not be); not those of languages
// other countries speak too (a "spanish movie" may be from Spain or in
// Spanish, "french comedies" Belgian, "chinese movies" from Hong Kong).
var countries = map[string]string{
	"korean": "korea", "japanese": "japan",
	"mexican": "mexico", "iranian": "iran", "brazilian": "brazil", "italian": "italy", "indian": "india",
	"swedish": "sweden", "danish": "denmark", "norwegian": "norway", "finnish": "finland", "turkish": "turkey",
	"thai": "thailand", "nigerian": "nigeria", "australian": "australia", "canadian": "canada", "irish": "ireland",
	"scottish": "scotland", "polish": "poland", "argentinian": "argentina", "argentine": "argentina",
	"egyptian": "egypt", "israeli": "israel", "british": "uk", "american": "usa", "belgian": "belgium",
	"dutch": "netherlands", "icelandic": "iceland", "chilean": "chile", "colombian": "colombia", "filipino": "philippines",
	"indonesian": "indonesia", "vietnamese": "vietnam", "taiwanese": "taiwan", "south korean": "korea",
	"scandinavian": "scandinavia", "uk": "uk", "usa": "usa",
}

// languageDemonyms are the countries' demonyms that name a language too:
// before music and a show's episodes they stay as written ("korean songs"
// may be in Korean wherever they were made).
var languageDemonyms = map[string]bool{"korean": true, "japanese": true}

// namedWars are the demonyms whose "war" names one war: "korean war
// movies" are about it.
var namedWars = map[string]bool{"korean": true, "mexican": true}

// countryNames are the countries' names as a query writes them after
// "from".
var countryNames = func() map[string]string {
	m := map[string]string{"the uk": "uk", "britain": "uk", "the us": "usa", "the usa": "usa",
		"america": "usa", "the united states": "usa", "united states": "usa", "the united kingdom": "uk",
		"united kingdom": "uk", "great britain": "uk", "south korea": "korea", "the netherlands": "netherlands", "holland": "netherlands",
		"the philippines": "philippines"}
	for _, c := range countries {
		m[c] = c
	}
	return m
}()

// relations moves what the words before the first kind of thing asked
// for say of it after it, where they can only say one thing: a platform
// ("netflix documentaries": documentaries on netflix), an audience ("kids
// christmas movies": christmas movies for kids), a country ("mexican
// movies": movies from mexico), and for the kinds that have one, a topic
// ("whale documentaries", "true crime podcasts": about whales, about true
// crime), when it is one word or a topic of two (two words are mostly a
// name, and "Morgan Freeman documentaries" may be with him, by him or
// about him: they stay as they are). A country after
// "from" is written as its demonym's.
func relations(ws []string) []string {
	kind := kinds(ws)
	for i, w := range ws {
		kind[i] = kind[i] || w == "games" || w == "game" && i+1 == len(ws) // "ps5 games" are games on it
	}
	i := 0 // what the words before the kind say starts after the years and decades
	for i < len(ws) && timeWord(ws[i]) {
		i++
	}
	j := i
	for j < len(ws) && !kind[j] {
		if !nameWord(ws[j]) && !platforms[ws[j]] || timeWord(ws[j]) || connectors[ws[j]] {
			return relationsAfter(ws)
		}
		j++
	}
	k := j
	for k < len(ws) && kind[k] {
		k++
	}
	if j == len(ws) {
		return relationsAfter(ws)
	}
	pre := ws[i:j]
	// A leading word of two or more may say a relation of its own: an
	// audience ("kids christmas movies": christmas movies for kids), a
	// service ("ps5 racing games": racing games on it), a known maker
	// ("kurosawa samurai movies": samurai movies by him); the rest is
	// read as the whole would be.
	var lead []string
	if len(pre) >= 2 {
		phrase := pre[0] + " " + pre[1]
		name := ""
		for n := min(len(pre)-1, aliasLongest); n >= 1 && name == ""; n-- {
			if makerOf(strings.Join(pre[:n], " "), ws[k-1]) {
				name = strings.Join(pre[:n], " ")
			}
		}
		switch {
		case platforms[strings.Join(pre, " ")]: // "nintendo switch online games": the whole is one
		case len(pre) > 3 && services[strings.Join(pre[:3], " ")] && !platformAfter(ws[k:]): // "apple tv plus drama series"
			lead, pre = []string{"on", pre[0] + pre[1] + pre[2]}, pre[3:]
		case len(pre) > 2 && services[phrase] && !platformAfter(ws[k:]): // "nintendo switch zelda games"
			lead, pre = []string{"on", pre[0] + pre[1]}, pre[2:]
		case audiences[pre[0]] && !audiences[pre[1]]:
			lead, pre = []string{"for", pre[0]}, pre[1:]
		case (services[pre[0]] || networks[pre[0]] || devices[pre[0]] && ws[k-1] == "games" && gameGenres[pre[1]]) && !platforms[phrase] && !platformAfter(ws[k:]):
			lead, pre = []string{"on", pre[0]}, pre[1:]
		case countries[pre[0]] != "" && !languageDemonyms[pre[0]] && len(pre) == 2 && musicStyles[pre[1]]: // "irish folk music"; not "indian summer songs", "Japanese House songs"
			lead, pre = []string{"from", countries[pre[0]]}, pre[1:]
		case name != "" && !musicKinds[ws[k-1]] && !platforms[phrase]: // names before songs: artists writes them
			lead, pre = append([]string{"by"}, strings.Fields(name)...), pre[len(strings.Fields(name)):]
		}
	}
	if _, ok := topicOf(ws[k-1], append(slices.Clip(pre), ws[j:k-1]...)); ok && k-j > 1 { // "crime documentaries", "true crime podcasts"
		pre = append(slices.Clip(pre), ws[j:k-1]...)
		j = k - 1
	}
	if len(pre) == 0 && lead == nil || len(pre) > 2 && !platforms[strings.Join(pre, " ")] || lead != nil && len(pre) > 1 {
		return relationsAfter(ws)
	}
	// Only a word that is the whole of what comes before the kind says one
	// thing ("spy kids movies" are not spy movies for kids; "american
	// football movies" not football movies from the US).
	var keep, after []string
	phrase := strings.Join(pre, " ")
	switch t, topic := topicOf(ws[k-1], pre); {
	case len(pre) == 0:
	case platforms[phrase] && (!ambiguous[phrase] || ws[k-1] == "games") && !platformAfter(ws[k:]): // "netflix shows on hulu" keeps its words; "steam games" are on it
		after = []string{"on", strings.ReplaceAll(phrase, " ", "")}
	case len(pre) == 1 && audiences[phrase]:
		after = []string{"for", phrase}
	case len(pre) == 1 && audienceOf[phrase] != "" && (phrase != "adult" || k-j > 1): // "adult animated films"; not "adult movies"
		after = []string{"for", audienceOf[phrase]}
	case len(pre) == 1 && languages[phrase] && (ws[k-1] == "podcasts" || ws[k-1] == "audiobooks" || ws[k-1] == "podcast" || ws[k-1] == "audiobook"): // "german podcasts" are in German
		after = []string{"in", phrase}
	case countries[phrase] != "" && !(ws[j] == "war" && namedWars[phrase]) && !(languageDemonyms[phrase] && (musicKinds[ws[k-1]] || ws[k-1] == "episodes" || ws[k-1] == "seasons")): // "korean war movies" are about the Korean War; "french songs" may be in French, "Greek" episodes a show's
		after = []string{"from", countries[phrase]}
	case len(pre) == 1 && spokenOnly[phrase], len(pre) == 2 && languages[pre[0]] && pre[1] == "language": // "hindi movies", "korean language films": in it
		after = []string{"in", pre[0]}
	case topic:
		after = append([]string{"about"}, strings.Fields(t)...)
	case occasions[phrase]: // "rainy day movies"; after the subjects: "meditation documentaries" are about it
		after = append([]string{"for"}, pre...)
	default:
		keep = pre
	}
	after = append(after, lead...)
	if p := pluralOf[ws[k-1]]; p != "" && len(after) > 0 && after[0] != "about" && keep == nil && p != "movies" && p != "shows" && p != "songs" { // "netflix documentary": documentaries on netflix; not "Bee Movie", "Date Night movie", "American Movie", titles, nor a subject's ("Jazz" documentary)
		ws = slices.Clone(ws)
		ws[k-1] = p
	}
	out := make([]string, 0, len(ws)+len(after))
	out = append(out, ws[:i]...)
	out = append(out, keep...)
	out = append(out, ws[j:k]...)
	out = append(out, after...)
	out = append(out, ws[k:]...)
	return relationsAfter(out)
}

// onEarth reports whether ws, after "on", say "in the world": "the best
// documentaries on earth", "on the planet".
func onEarth(ws []string) bool {
	return len(ws) > 0 && ws[0] == "earth" || len(ws) > 1 && ws[0] == "the" && (ws[1] == "planet" || ws[1] == "earth")
}

// known reports whether ws start with a known subject, "the" before it
// included ("on the space race").
func known(ws []string) bool {
	if len(ws) > 1 && ws[0] == "the" {
		ws = ws[1:]
	}
	_, n := subjectAt(ws)
	return n > 0
}

// platformAt reports whether ws start with a platform ("the" before it
// included).
func platformAt(ws []string) bool {
	if len(ws) > 1 && ws[0] == "the" {
		ws = ws[1:]
	}
	for n := min(3, len(ws)); n >= 1; n-- {
		if platforms[strings.Join(ws[:n], " ")] {
			return true
		}
	}
	return false
}

// musicStyles are the genres of music a country before them places
// ("irish folk"), not a season or a mood ("indian summer").
var musicStyles = map[string]bool{"folk": true, "rock": true, "jazz": true, "pop": true, "rap": true, "hiphop": true,
	"metal": true, "punk": true, "reggae": true, "blues": true, "techno": true, "house": true, "country": true,
	"classical": true, "electronic": true, "indie": true, "soul": true, "funk": true, "disco": true, "opera": true}

// spokenOnly are the languages whose word names no country's people:
// "hindi movies" are in Hindi ("korean movies" may be from Korea).
var spokenOnly = map[string]bool{"hindi": true, "mandarin": true, "cantonese": true, "tamil": true, "telugu": true,
	"bengali": true, "urdu": true, "farsi": true, "tagalog": true, "arabic": true, "hebrew": true, "malayalam": true,
	"kannada": true, "marathi": true, "punjabi": true, "swahili": true, "yiddish": true}

// relationsAfter writes the relations after the kind as relations writes
// those before it: a platform that ends the text right after the kind
// after "on" ("horror games ps4"), a country after "from" as its demonym's, a platform
// after "on" (or "for" a device, "from" a network) as one word, a known
// subject after "about" in the singular ("about whales" is "about
// whale", as "whale documentaries" say), "on" before a known subject as
// "about" for documentaries, podcasts and books, and "for a" an
// occasion as "for" it.
func relationsAfter(ws []string) []string {
	for n := min(3, len(ws)-1); n >= 1; n-- { // "horror games ps4": on it, as "ps4 horror games" are
		phrase := strings.Join(ws[len(ws)-n:], " ")
		if (services[phrase] || devices[phrase]) && !ambiguous[phrase] && kindWord(ws[len(ws)-n-1]) && !platformAt(ws[:len(ws)-n]) { // a service or a device: "dune movie showtime" may be the times it shows
			ws = append(append(slices.Clip(ws[:len(ws)-n]), "on"), ws[len(ws)-n:]...)
			break
		}
	}
	out := ws[:0:0]
	for i := 0; i < len(ws); i++ {
		out = append(out, ws[i])
		if ws[i] == "on" && i > 0 && (factKinds[ws[i-1]] || ws[i-1] == "lectures" || ws[i-1] == "audiobooks" || ws[i-1] == "books") && i+1 < len(ws) && !platformAt(ws[i+1:]) && known(ws[i+1:]) && !onEarth(ws[i+1:]) { // "podcasts on stoicism": about it; not "on apple", "songs on the bear", "on earth"
			out[len(out)-1] = "about"
		}
		if out[len(out)-1] == "about" {
			if t, n := subjectAt(ws[i+1:]); n > 0 { // "about the whales": "about whale", as "whale documentaries" say
				out = append(out, strings.Fields(t)...)
				i += n
				continue
			}
		}
		if ws[i] == "for" && i+2 < len(ws) && (ws[i+1] == "a" || ws[i+1] == "an") && (occasions[ws[i+2]] || i+3 < len(ws) && occasions[ws[i+2]+" "+ws[i+3]]) { // "for a rainy day"
			i++
			continue
		}
		if ws[i] != "from" && ws[i] != "on" && ws[i] != "for" || i+1 == len(ws) {
			continue
		}
		the := 0 // "for the switch", "from the bbc"
		if ws[i+1] == "the" && i+2 < len(ws) && (ws[i] != "from" || networks[ws[i+2]]) {
			the = 1
		}
		for n := min(3, len(ws)-i-1-the); n >= 1; n-- {
			phrase := strings.Join(ws[i+1+the:i+1+the+n], " ")
			if c, ok := countryNames[phrase]; ok && ws[i] == "from" {
				out = append(out, c)
				i += n
				break
			}
			if platforms[phrase] && (ws[i] == "on" || ws[i] == "from" && networks[phrase] || ws[i] == "for" && devices[phrase]) { // "games for ps5", "documentaries from pbs": on it
				out[len(out)-1] = "on"
				out = append(out, strings.ReplaceAll(phrase, " ", ""))
				i += n + the
				break
			}
		}
	}
	return out
}
