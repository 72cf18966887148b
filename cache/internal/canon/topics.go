package canon

import "strings"

// Subjects: what a thing asked for is about, when a word before it says
// so ("whale documentaries", "heist movies", "heartbreak songs" are about
// whales, heists, heartbreak) as "about" does after it.

// topicKinds are the kinds of thing whose subject a word before them
// names: "whale documentaries" are documentaries about whales. For
// documentaries, podcasts and biopics, every known subject; for the
// others, the subjects that name no title too (notFiction).
var topicKinds = map[string]bool{
	"documentaries": true, "documentary": true, "podcasts": true, "podcast": true, "biopics": true, "biopic": true,
	"docuseries": true,
	"movies":     true, "shows": true, "series": true, "anime": true, "miniseries": true,
	"audiobooks": true, "books": true, "novels": true, "songs": true,
}

// songSubjects are the subjects a word before songs names: feelings, not
// a band's name or a soundtrack's ("train songs", "titanic songs").
var songSubjects = map[string]bool{"heartbreak": true, "breakup": true, "friendship": true, "grief": true}

// factKinds are the kinds whose subject any known subject before them is.
var factKinds = map[string]bool{
	"documentaries": true, "documentary": true, "podcasts": true, "podcast": true, "biopics": true, "biopic": true,
	"docuseries": true,
}

// notFiction are the subjects that, before a movie, a show or a song, may
// say something else: a franchise ("cars movies", "alien movies"), a
// style ("art movies"), a genre the canonical form keeps ("crime", "war").
var notFiction = map[string]bool{
	"car": true, "alien": true, "bird": true, "art": true, "crime": true, "war": true, "true crime": true,
	"music": true, "jazz": true, "monster": true, "planet": true, "earth": true,
}

// subjectNames are the known subjects, in the singular: one or a few
// words that are no name, no genre of the canonical form's and no
// platform.
var subjectNames = strings.Split("whale,shark,animal,nature,wildlife,ocean,space,food,cooking,music,jazz,history,science,"+
	"sport,football,soccer,basketball,baseball,tennis,golf,boxing,climbing,cycling,art,architecture,fashion,design,travel,car,"+
	"racing,politics,war,religion,health,fitness,money,business,finance,economics,technology,tech,crypto,climate,environment,"+
	"planet,earth,dinosaur,bird,dog,cat,heist,cult,murder,mafia,drug,prison,volcano,weather,bee,insect,astronomy,physics,math,"+
	"chess,poker,wine,beer,coffee,chocolate,vampire,zombie,robot,horse,ballet,dance,dancing,samurai,ninja,pirate,spy,witch,"+
	"ghost,monster,musician,startup,heartbreak,friendship,grief,addiction,college,surfing,skateboarding,hacking,hacker,"+
	"gangster,octopus,dolphin,penguin,elephant,lion,wolf,bear,tiger,baking,gardening,hiking,mountaineering,skiing,wrestling,"+
	"ufo,alien,crime,true crime,climate change,world war,world war 1,world war 2,civil war,cold war,vietnam war,"+
	"serial killer,space exploration,climate crisis,mental health,organized crime,street food,fast food,social media,"+
	"artificial intelligence,time travel,moon landing,ancient rome,ancient egypt,ancient greece,high school,stock market,"+
	"global warming,natural disaster,outer space,deep sea,breakup,holocaust,chernobyl,titanic,moon,cancer,autism,"+
	"immigration,slavery,civil rights,feminism,poverty,racism,terrorism,nuclear war,haunted house,bank robbery,"+
	"space race,great depression,stoicism,philosophy,psychology,parenting,habit,productivity,meditation,"+
	"motorcycle,train,submarine,boxer,chef,lawyer,doctor,nurse,teacher,soldier,firefighter,detective,"+
	"extinct animal,conspiracy,conspiracy theory,ai,roman empire,personal finance,apollo 11,moon landings,vietnam", ",")

// subjectForms maps each known subject, in the singular and the plural,
// to its singular; subjectLongest is the words of the longest.
var subjectForms, subjectLongest = func() (map[string]string, int) {
	m, longest := map[string]string{}, 0
	irregular := map[string]string{"wolf": "wolves", "octopus": "octopuses", "witch": "witches", "volcano": "volcanoes",
		"mafia": "mafias"}
	for _, t := range subjectNames {
		m[t] = t
		p, ok := irregular[t]
		switch {
		case ok:
		case strings.HasSuffix(t, "y") && !strings.HasSuffix(t, "ey"): // "bank robbery", "spy"
			p = t[:len(t)-1] + "ies"
		default:
			p = t + "s"
		}
		m[p] = t
		longest = max(longest, len(strings.Fields(t)))
	}
	return m, longest
}()

// topicOf returns the subject ws name when they come before kind (a kind
// word) and can only say what it is about: in the singular, as an
// English compound writes it ("dog movies"; "Cats", "Robots", "Oceans"
// before a kind are titles), and before songs a feeling only.
func topicOf(kind string, ws []string) (string, bool) {
	if !topicKinds[kind] || len(ws) == 0 || len(ws) > subjectLongest {
		return "", false
	}
	p := strings.Join(ws, " ")
	t, ok := subjectForms[p]
	if !ok || t != p || !factKinds[kind] && notFiction[t] || (kind == "songs" || kind == "song") && !songSubjects[t] {
		return "", false
	}
	return t, true
}

// subjectAt returns the known subject ws start with after "about", in the
// singular, and the words it takes ("a" before it included); n is 0 when
// ws start with none, when a name goes on after it ("about the cold war
// generals" is about generals), or after "the" a subject of one word
// ("about the moon" is not about moons, "about the birds" may be about
// the film; "the vietnam war" is "vietnam war").
func subjectAt(ws []string) (string, int) {
	skip, least := 0, 1
	switch {
	case len(ws) > 0 && (ws[0] == "a" || ws[0] == "an"):
		skip = 1
	case len(ws) > 0 && ws[0] == "the": // "about the vietnam war": a subject of two words or more
		skip, least = 1, 2
	}
	for n := min(subjectLongest, len(ws)-skip); n >= least; n-- {
		t, ok := subjectForms[strings.Join(ws[skip:skip+n], " ")]
		if !ok || skip+n < len(ws) && nameWord(ws[skip+n]) {
			continue
		}
		return t, skip + n
	}
	return "", 0
}
