package canon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// Spellings that cannot differ in meaning: one form.
var same = [][2]string{
	{"taylor swift songs", "songs by Taylor Swift"}, {"miles davis albums", "albums by miles davis"},
	{"I'm looking for a podcast about space", "podcasts about space"}, {"recommend me a show like Succession", "shows like succession"},
	{"rainy day movies", "movies for a rainy day"}, {"toddler shows", "shows for toddlers"}, {"netflix documentary", "netflix documentaries"},
	{"Tom Hanks comedies from the 90s", "90s comedies with Tom Hanks"},
	{"tom hanks comedies from the '90s!", "Tom Hanks comedies from the nineties"},
	{"90s comedies", "1990s comedies"},
	{"comedies of the 1990's", "90s comedies"},
	{"Amélie", "AMELIE"},
	{"ame\u0301lie", "Amélie"},
	{"sci-fi movies", "sci fi films"},
	{"scifi movies", "Sci-Fi Movies"},
	{"show me horror movies", "horror films"},
	{"Can you show me some thrillers?", "thrillers"},
	{"I want to watch rom-coms", "romcoms"},
	{"Tom & Jerry cartoons", "tom and jerry cartoons"},
	{"movies from 1994", "1994 movies"},
	{"films in 1994 with Keanu Reeves", "movies with keanu reeves from 1994"},
	{"movies starring Meg Ryan", "movies with meg ryan"},
	{"movies with Tom Hanks and Meg Ryan", "movies with Meg Ryan and Tom Hanks"},
	{"Spielberg movies from the eighties", "80s spielberg films"},
	{"documentaries about space", "docs about space"},
	{"   jazz    documentaries   ", "Jazz documentaries."},
	{"Schindler's List", "schindlers list"},
	{"please find me some westerns", "westerns"},
	{"tv shows about cooking", "shows about cooking"},
	{"movies directed by Nolan", "movies by nolan"},
	{"movies that dont have subtitles", "movies that don't have subtitles"},
	{"films you cannot stop watching", "films you can't stop watching"},
	// Version 4, as docs/meaning.md gives it.
	{"korean thrillers", "thrillers from south korea"}, {"german podcasts", "podcasts in german"},
	{"what documentaries are there about space", "documentaries about space"}, {"what horror movies came out in 2023", "horror films of 2023"},
	{"which movies star Leonardo DiCaprio", "movies with Leonardo DiCaprio"}, {"hey siri play taylor swift songs", "taylor swift songs"},
	{"some good war documentaries", "good war documentaries"}, {"best albums of '97", "best albums of 1997"},
	{"anime from the early 2000s", "early 2000s anime"}, {"stephen king audiobooks", "audiobooks written by stephen king"},
	{"what films has wes anderson made", "wes anderson films"}, {"apple tv+ drama series", "drama series on apple tv plus"},
	{"horror games ps4", "ps4 horror games"}, {"nature documentaries from the bbc", "bbc nature documentaries"},
	{"where is succession streaming", "where can i watch succession"}, {"what's the runtime of oppenheimer", "runtime of oppenheimer"},
	{"who is in the cast of the matrix", "the matrix cast"}, {"when does the last of us season 2 come out", "the last of us season 2 release date"},
}

// Texts that differ in meaning, however close: never one form.
var differ = [][2]string{
	// A name before a kind of music is its maker, not who is featured.
	{"drake songs featuring rihanna", "rihanna songs featuring drake"}, {"taylor swift songs", "songs with taylor swift"},
	{"comedies before 1990", "comedies after 1990"},
	{"movies from 1994", "movies from 1995"},
	{"90s comedies", "80s comedies"},
	{"20s movies", "1920s movies"}, // which century?
	{"comedies without romance", "romance without comedies"},
	{"movies with dogs", "movies without dogs"},
	{"not scary movies", "scary movies"},
	{"movies that aren't scary", "movies that are scary"},
	{"rocky 2", "rocky 3"},
	{"the godfather part ii", "the godfather part iii"},
	{"best comedies", "worst comedies"},
	{"first star wars movie", "last star wars movie"},
	{"top 10 comedies", "top 100 comedies"},
	{"movies with tom hanks", "movies by tom hanks"},
	{"tom hanks movies", "tom cruise movies"},
	{"horror comedies", "horror dramas"},
	{"alien", "aliens"},
	{"cars", "car"},
	{"movies under 90 minutes", "movies over 90 minutes"},
	{"show boat", "boat"},
	{"find me guilty", "guilty"},
	{"the office", "office"},
	{"alien vs predator", "predator vs alien"},
	{"man bites dog", "dog bites man"},
	{"movies like alien", "movies unlike alien"},
	{"comedies except romcoms", "romcoms except comedies"},
	{"second season of the office", "first season of the office"},
	{"movies from france", "movies from italy"},
	{"anime movies", "anime series"},
	// Found by a review on pairs written apart from the rules.
	{"Scary Movie", "scary movies"}, {"Bee Movie", "bee movies"}, {"Superhero Movie", "superhero movies"},
	{"Show Boat", "boat shows"}, {"1917 war movie", "war movies from 1917"}, {"1984 film", "films from 1984"},
	{"war movie about a family", "family movie about a war"}, {"crime drama about a family", "family drama about a crime"},
	{"crime family movies", "family crime movies"}, {"movies adapted from musicals", "musicals adapted from movies"},
	{"TV shows based on movies", "movies based on TV shows"}, {"movies turned into TV series", "TV series turned into movies"},
	{"miniseries about Chernobyl", "series about Chernobyl"}, {"Looking for Alaska series", "Alaska series"},
	{"Get Me Roger Stone documentary", "Roger Stone documentaries"}, {"Show Me Love movie", "love movies"},
	{"horror -zombies", "horror zombies"}, {"movies <90 minutes", "movies >90 minutes"}, {"rated 4 stars", "4+ stars"},
	{"🎃 movies", "🎄 movies"}, {"some like it hot", "like it hot"}, {"movies for kids", "movies about kids"},
	{"she kills him", "he kills her"},
	{"family guy", "guy family"}, {"war horse", "horse war"}, {"action jackson", "jackson action"},
	// Found by a second review, on pairs written apart from this version.
	{"movies remade as TV shows", "TV shows remade as movies"}, {"books adapted as films", "films adapted as books"},
	// Version 4's near misses.
	{"korean war movies", "war movies from korea"}, {"french comedies", "comedies from france"}, {"spanish movies", "movies from spain"},
	{"german podcast", "podcasts from germany"}, {"summer of '69", "summer of 1969"}, {"'71", "1971"}, {"the '27 yankees", "the 2027 yankees"},
	{"who directed parasite", "parasite director"}, {"who starred in titanic", "titanic"}, {"how long is the titanic", "titanic runtime"},
	{"where can i see hamilton", "where to watch hamilton"}, {"what movies came out on netflix", "movies on netflix"},
	{"what movies can i watch on a plane", "movies on a plane"}, {"dune movie showtime", "dune movie on showtime"},
	{"play that funky music", "that funky music"}, {"stephen fry audiobooks", "audiobooks by stephen fry"},
}

func TestForm(t *testing.T) {
	for _, p := range same {
		if a, b := Form(p[0]), Form(p[1]); a != b || a == "" {
			t.Errorf("%q → %q and %q → %q: want one form", p[0], a, p[1], b)
		}
	}
	for _, p := range differ {
		if a, b := Form(p[0]), Form(p[1]); a == b {
			t.Errorf("%q and %q share the form %q: they differ in meaning", p[0], p[1], a)
		}
	}
}

func TestFormExamples(t *testing.T) {
	for _, tc := range [][2]string{
		{"Tom Hanks comedies from the '90s!", "1990s | comedies | tom hanks"},
		{"movies with Tom Hanks and Meg Ryan", "meg ryan | movies | tom hanks"},
		{"comedies before 1990", "comedies before 1990"},
		{"war movie about a family", "about a family | war movie"},
		{"", "="},
		{"   ", "=   "},
		{"!!!", "=!!!"},
		{"🎃 movies", "=🎃 movies"},
		{"please", "please"},
		{"show me", "me | show"},
		{"don't look up", "do not look up"},
		{"films with", "movies | with "},
		{"Ｔｏｍ　Ｈａｎｋｓ", "tom hanks"},
	} {
		if got := Form(tc[0]); got != tc[1] {
			t.Errorf("Form(%q) = %q, want %q", tc[0], got, tc[1])
		}
	}
	if Key("90s comedies") != Key("1990s comedies") || Key("a") == Form("a") {
		t.Error("Key: one for one form, with the version in it")
	}
}

func FuzzForm(f *testing.F) {
	for _, p := range same {
		f.Add(p[0])
	}
	for _, p := range differ {
		f.Add(p[1])
	}
	f.Fuzz(func(t *testing.T, s string) {
		form := Form(s)
		// White space and punctuation around the words change nothing
		// (but for a text kept as it is written).
		if again := Form("  " + s + " !"); again != form && !strings.HasPrefix(form, "=") {
			t.Errorf("Form(%q) = %q, but with spaces and a \"!\" around it %q", s, form, again)
		}
		if Key(s) != Key(s) {
			t.Errorf("Key(%q) is not deterministic", s)
		}
	})
}

// The cost of a typical query's form (a Kind memoises its recent keys).
func BenchmarkForm(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		Form("Tom Hanks comedies from the '90s!")
	}
}

// goldenQueries are fixed: their forms, hashed, pin the rules to
// Version. Never edit them; add tests elsewhere.
var goldenQueries = []string{
	"drake songs featuring rihanna", "songs by Taylor Swift", "Taylor Swift albums", "jazz albums from the 50s", "1996 hip hop albums",
	"kids christmas movies", "netflix documentaries", "ps5 games", "rocky ii", "songs by the 1975", "the 1975 songs", "true crime podcasts",
	"maroon 5 songs", "can you show me nintendo switch games", "movies written by charlie kaufman directed by spike jonze", "please please me",
	"scary movies for kids please", "pet shop boys please", "horror films released in 2019", "recommend me some open world games",
	"ps5 racing games", "friends s05e14", "movies under ninety minutes", "looking for cozy mystery series", "Looking for Alaska",
	"Show Me the Money", "show me a hero", "hey jude", "70s songs in 90s movies", "searching for bobby fischer movie", "steam deck games",
	"Tom Hanks comedies from the '90s!", "90s comedies with Tom Hanks", "Amélie", "sci-fi movies", "Sci Fi Films",
	"Can you show me some thrillers?", "I want to watch rom-coms", "Tom & Jerry cartoons", "movies from 1994",
	"films in 1994 with Keanu Reeves", "movies starring Meg Ryan", "movies with Tom Hanks and Meg Ryan",
	"Spielberg movies from the eighties", "documentaries about space", "Schindler's List", "please find me some westerns",
	"tv shows about cooking", "movies directed by Nolan", "comedies before 1990", "20s movies", "rocky 2", "rocky ii",
	"the godfather part ii", "best comedies", "top 10 comedies", "movies by tom hanks", "alien", "aliens",
	"show boat", "find me guilty", "the office", "alien vs predator", "man bites dog", "movies unlike alien",
	"Scary Movie", "scary movies", "1917 war movie", "war movie about a family", "crime family movies",
	"movies adapted from musicals", "miniseries about Chernobyl", "Looking for Alaska series", "horror -zombies",
	"🎃 movies", "some like it hot", "movies for kids", "she kills him", "don't look up", "Ｔｏｍ　Ｈａｎｋｓ", "",
}

// goldenSince4 are fixed as goldenQueries are, and pin the rules from
// version 4 on.
var goldenSince4 = []string{
	"korean thrillers", "thrillers from south korea", "korean war movies", "anime from the early 2000s", "space animes",
	"what documentaries are there about space", "what horror movies came out in 2023", "which movies star tom hanks",
	"where can i watch succession", "who directed parasite", "who is in the cast of the matrix", "some good war documentaries",
	"stephen king audiobooks", "audiobooks written by stephen king", "apple tv+ drama series", "series from turkey",
	"comedies from the united kingdom", "what films has wes anderson made", "xbox game pass games", "jazz documentary",
	"hey siri play taylor swift songs", "best albums of '97", "german podcasts", "horror games ps4", "who sings bohemian rhapsody",
	"summer of '69", "when does the last of us season 2 come out", "nature documentaries from the bbc",
}

// golden pins the forms of goldenQueries to the rules' Version: a change
// of any rule that changes one of their forms fails here until Version is
// raised (and the new version's hash pinned), so that no value is served
// under another version's form.
var golden = map[int]string{2: "3ed282cea90bc9203e47398fe85067e372af0287049fa6ff7e4fe784ecdcbd23", 3: "7f521b68a03965a87b866cee5c1382a44b3f06ec4fd51993e84f21f5e3043b37",
	4: "647a431d1fe7eb3ed684b8ac960136f04dc851e7e3960789592569fd3a70fa1b"}

func TestVersionPinsTheRules(t *testing.T) {
	h := sha256.New()
	for _, q := range goldenQueries {
		fmt.Fprintf(h, "%s\x00", Form(q))
	}
	if Version >= 4 {
		for _, q := range goldenSince4 {
			fmt.Fprintf(h, "%s\x00", Form(q))
		}
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want := golden[Version]; got != want {
		t.Errorf("the golden queries' forms hash to %s; version %d's to %q: a rule changed. Raise Version and pin the new hash", got, Version, want)
	}
}

// A text of more than maxWords words is no search query: it is kept as
// written (its own key), and to the guards it answers only itself, so that
// no text costs the rules more than a query does.
func TestLongTextsKeptAsWritten(t *testing.T) {
	long := strings.Repeat("nolan's movies ", maxWords/2) + "please"
	if f := Form(long); f != "="+long {
		t.Errorf("a text of %d words has the form %q; want it kept as written", maxWords+1, f)
	}
	if ok, _ := Guard(long, long+"!"); ok {
		t.Errorf("a text of %d words answers another text", maxWords+1)
	}
	short := strings.Repeat("nolan's movies ", maxWords/2)
	if f := Form(short); strings.HasPrefix(f, "=") {
		t.Errorf("a text of %d words is not read: %q", maxWords, f)
	}
}
