package canon

import "testing"

// Guards pass every paraphrase of the rules' tests, and refuse every pair
// that differs: with identical vectors (a model that cannot tell two
// queries apart), only the guards stand between a query and a false hit.
func TestGuard(t *testing.T) {
	for _, p := range same {
		if ok, why := Guard(p[0], p[1]); !ok {
			t.Errorf("Guard(%q, %q) refused: %s", p[0], p[1], why)
		}
	}
	for _, p := range differ {
		if ok, _ := Guard(p[0], p[1]); ok {
			t.Errorf("Guard(%q, %q) passed: they differ in meaning", p[0], p[1])
		}
	}
	for _, p := range [][2]string{
		{"scary movies for kids", "kids scary films"},
		{`the movie "Heat" with Al Pacino`, `Al Pacino in "Heat"`},
		{"good new comedies", "new good comedies"},
	} {
		if ok, why := Guard(p[0], p[1]); !ok {
			t.Errorf("Guard(%q, %q) refused: %s", p[0], p[1], why)
		}
	}
	for _, p := range [][2]string{
		{`the movie "Heat"`, `the movie "Heated"`},
		{"tom hanks movies", "tom cruise movies"},
		{"comedies without romance", "comedies without action"},
		{"movies by nolan", "movies with nolan"},
		{"christmas movies", "halloween movies"},
	} {
		if ok, _ := Guard(p[0], p[1]); ok {
			t.Errorf("Guard(%q, %q) passed", p[0], p[1])
		}
	}
}
