package canon

import (
	"testing"
)

// Spellings that cannot differ in meaning: one form.
var same = [][2]string{
	{"Tom Hanks comedies from the 90s", "90s comedies with Tom Hanks"},
	{"tom hanks comedies from the '90s!", "Tom Hanks comedies from the nineties"},
	{"90s comedies", "1990s comedies"},
	{"comedies of the 1990's", "90s comedy"},
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
	{"documentaries about space", "documentary about space"},
	{"   jazz    documentaries   ", "Jazz documentaries."},
	{"Schindler's List", "schindlers list"},
	{"please find me some westerns", "westerns"},
	{"tv shows about cooking", "shows about cooking"},
	{"movies directed by Nolan", "movies by nolan"},
}

// Texts that differ in meaning, however close: never one form.
var differ = [][2]string{
	{"comedies before 1990", "comedies after 1990"},
	{"movies from 1994", "movies from 1995"},
	{"90s comedies", "80s comedies"},
	{"20s movies", "1920s movies"}, // which century?
	{"comedies without romance", "romance without comedies"},
	{"movies with dogs", "movies without dogs"},
	{"not scary movies", "scary movies"},
	{"movies that aren't scary", "movies that are scary"},
	{"rocky 2", "rocky 3"},
	{"rocky 2", "rocky ii"},
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
	for in, want := range map[string]string{
		"Tom Hanks comedies from the '90s!":  "1990s | comedy | tom hanks",
		"movies with Tom Hanks and Meg Ryan": "meg ryan | movie | tom hanks",
		"comedies before 1990":               "comedy before 1990",
		"":                                   "",
		"   ":                                "",
		"!!!":                                "",
		"please":                             "please",
		"show me":                            "me | show",
		"don't look up":                      "do not look up",
		"films with":                         "movie | with ",
		"Ｔｏｍ　Ｈａｎｋｓ":                          "tom hanks",
	} {
		if got := Form(in); got != want {
			t.Errorf("Form(%q) = %q, want %q", in, got, want)
		}
	}
	if Key("90s comedies") != Key("1990s comedy") || Key("a") == Form("a") {
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
		// White space and punctuation around the words change nothing.
		if again := Form("  " + s + " !"); again != form {
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
