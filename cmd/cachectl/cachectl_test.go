package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/media-gateway/discovery/cache"
	"github.com/media-gateway/discovery/internal/jsonshape"
	"github.com/media-gateway/discovery/internal/redistest"
)

// cli runs cachectl with args in this process and returns its exit status
// and outputs.
func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// server starts a private Redis with a password and points REDIS_URL at
// it; it returns the server and a cache on it for checking behind the
// command's back.
func server(t *testing.T) (*redistest.Server, *cache.RedisCache) {
	t.Helper()
	srv := redistest.Start(t, "--requirepass", "s3cret-pw")
	url := "redis://:s3cret-pw@" + srv.Addr + "/0"
	t.Setenv("REDIS_URL", url)
	c, err := cache.New(context.Background(), cache.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func TestHealth(t *testing.T) {
	server(t)
	code, out, errOut := cli(t, "", "health")
	if code != 0 || !strings.Contains(out, "status   ok") || !strings.Contains(out, "redis://:xxxxx@") {
		t.Errorf("health = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "health", "--json")
	h := jsonOut(t, "health --json", out)
	if l, _ := h["latency_seconds"].(float64); code != 0 || h["ok"] != true || l <= 0 || jsonshape.At(h, "breaker.state") != "closed" || h["connected"] != true {
		t.Errorf("health --json = %d\n%s", code, out)
	}
	if h["near_cache"] != nil { // the command's own, off: it says nothing of the service's
		t.Errorf("health --json describes the command's near cache:\n%s", out)
	}
	code, out, errOut = cli(t, "", "health", "--url", "redis://:an0ther-pw@127.0.0.1:1/0")
	if code != 1 || strings.Count(errOut, "is Redis running") != 1 || !strings.Contains(errOut, "--url") || strings.Contains(errOut, "Config.") {
		t.Errorf("health against a closed port = %d\n%s%s; want status 1 and what to check, once, in the CLI's terms", code, out, errOut)
	}
	srv := redistest.Start(t)
	code, _, errOut = cli(t, "", "health", "--url", srv.URL()[:len(srv.URL())-1]+"99")
	if code != 1 || !strings.Contains(errOut, "database number") || strings.Contains(errOut, "ACL") {
		t.Errorf("health with a database past the server's = %d %s; want a hint about the database number, not the ACL", code, errOut)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, "s3cret-pw") || strings.Contains(s, "an0ther-pw") {
			t.Errorf("a password was printed: %s", s)
		}
	}
	code, out, _ = cli(t, "", "health", "--json", "--url", "redis://127.0.0.1:1/0")
	failed := jsonOut(t, "health --json against a closed port", out)
	if msg, _ := failed["error"].(string); code != 1 || failed["ok"] != false || !strings.Contains(msg, "unavailable") {
		t.Errorf("health --json against a closed port = %d %q; want status 1 and the failure as JSON", code, out)
	}
	if code, _, errOut := cli(t, "", "health", "--url", "http://x"); code != 2 || !strings.Contains(errOut, "scheme") {
		t.Errorf("health with a malformed URL = %d %s; want status 2", code, errOut)
	}
	if code, _, _ := cli(t, "", "frobnicate"); code != 2 {
		t.Errorf("an unknown command = %d; want 2", code)
	}
}

// warm loads through a command and through an HTTP endpoint; the values are
// then read by a service with its own types, and inspect shows them.
func TestWarmInspectStatsClear(t *testing.T) {
	_, c := server(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "queries.jsonl")
	if err := os.WriteFile(input, []byte("\"the last empire\"\n\n\"dark city\"\n\"a <b> & c\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "", "warm", "search", "--input", input, "--loader-cmd", `read -r q; printf '{"for":%s,"hits":[1,2],"id":9007199254740993}' "$q"`)
	if code != 0 || !strings.Contains(out, "3 inputs, 0 already cached, 3 loaded, 0 failed") {
		t.Fatalf("warm search = %d\n%s%s", code, out, errOut)
	}
	type result struct {
		For  string `json:"for"`
		Hits []int  `json:"hits"`
		ID   int64  `json:"id"` // past 2^53: exact only if no float64 came between
	}
	ctx := context.Background()
	for _, q := range []string{"the last empire", "dark city", "a <b> & c"} {
		if v, ok, err := cache.Search[string, result](c).Get(ctx, q); !ok || err != nil || v.For != q || len(v.Hits) != 2 || v.ID != 9007199254740993 {
			t.Errorf("the service reads %q as %+v, %v, %v", q, v, ok, err)
		}
	}
	code, out, _ = cli(t, "", "warm", "search", "--input", input, "--loader-cmd", "exit 1")
	if code != 0 || !strings.Contains(out, "3 already cached, 0 loaded") {
		t.Errorf("warm again = %d %s; want every input cached", code, out)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == `"fail"` {
			http.Error(w, "no", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "[0.5, %d]", len(body))
	}))
	defer web.Close()
	code, out, errOut = cli(t, "\"a text\"\n\"fail\"\n", "warm", "embedding", "--model", "m", "--input", "-", "--loader-url", web.URL, "--json")
	sum := jsonOut(t, "warm --json", out)
	if code != 1 || sum["ok"] != false || sum["inputs"] != 2.0 || sum["loaded"] != 1.0 || sum["failed"] != 1.0 || sum["kind"] != "embedding" ||
		!strings.Contains(fmt.Sprint(sum["first_error"]), "502") || sum["took_seconds"] == nil || !strings.Contains(errOut, "502") {
		t.Errorf("warm embedding with one failing input = %d %q %s; want 1 loaded, 1 failed, status 1", code, out, errOut)
	}

	code, out, _ = cli(t, "", "inspect", "search", "the last empire")
	if code != 0 || !strings.Contains(out, "codec       json") || !strings.Contains(out, `"for": "the last empire"`) || !strings.Contains(out, "ttl ") ||
		!strings.Contains(out, "9007199254740993") {
		t.Errorf("inspect search = %d\n%s; want the id exact", code, out)
	}
	code, out, _ = cli(t, "", "inspect", "search", "the last empire", "--json")
	insp := jsonOut(t, "inspect --json", out)
	if ttl, _ := insp["ttl_seconds"].(float64); insp["ok"] != true || ttl < 1000 || ttl > 1800 || insp["codec"] != "json" || insp["written_at"] == nil {
		t.Errorf("inspect search --json = %d\n%s; want ok, a TTL in seconds within 30 minutes, the codec, when written", code, out)
	}
	if code != 0 || !strings.Contains(out, `"id": 9007199254740993`) && !strings.Contains(out, `"id":9007199254740993`) {
		t.Errorf("inspect search --json = %d\n%s; want the id exact", code, out)
	}
	code, out, _ = cli(t, "", "inspect", "embedding", "--model", "m", "a text", "--json")
	var in cache.Inspection
	if err := json.Unmarshal([]byte(out), &in); code != 0 || err != nil || !in.Exists || in.Codec != "float32le" || fmt.Sprint(in.Value) != "[0.5 8]" {
		t.Errorf("inspect embedding --json = %d %q (%v)", code, out, err)
	}
	if code, out, errOut := cli(t, "", "inspect", "search", "never cached"); code != 1 || !strings.Contains(out, "exists  no") || !strings.Contains(errOut, "nothing is cached") {
		t.Errorf("inspect of a query never cached = %d %s%s; want the table and status 1", code, out, errOut)
	}
	if code, out, _ := cli(t, "", "inspect", "search", "never cached", "--json"); code != 1 || jsonOut(t, "inspect --json of a missing key", out)["ok"] != false {
		t.Errorf("inspect --json of a query never cached = %d %s; want one JSON document and status 1", code, out)
	}
	if code, _, errOut := cli(t, "", "inspect", "embedding", "x"); code != 2 || !strings.Contains(errOut, "--model") {
		t.Errorf("inspect embedding without a model = %d %s", code, errOut)
	}

	// stats: the server's keys per kind, and a service's own figures.
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { json.NewEncoder(w).Encode(c.Stats()) }))
	defer svc.Close()
	code, out, _ = cli(t, "", "stats", "--service", svc.URL)
	if code != 0 || !regexpMatch(out, `search\s+3\s+100\.0%\s+-\s+70–85%\s+\d+\s+3\s+0`) || !regexpMatch(out, `embedding\s+1`) || !strings.Contains(out, "EXPECTED: ") {
		t.Errorf("stats --service = %d\n%s", code, out)
	}
	code, out, _ = cli(t, "", "stats", "--json", "--service", svc.URL)
	st := jsonOut(t, "stats --json", out)
	if n, _ := jsonshape.At(st, "server.used_memory_bytes").(float64); code != 0 || jsonshape.At(st, "kinds.search.keys") != 3.0 || n <= 0 ||
		jsonshape.At(st, "client.kinds.search.hits") != 3.0 || jsonshape.At(st, "client.kinds.search.latency.get.count") == nil {
		t.Errorf("stats --json = %d\n%s; want 3 search keys, the server's memory, the service's 3 hits and its reads", code, out)
	}
	if jsonshape.At(st, "kinds.search.hit_rate") != 1.0 || fmt.Sprint(jsonshape.At(st, "kinds.search.expected_hit_rate")) != "[0.7 0.85]" {
		t.Errorf("stats --json: the search hit rate beside the expected range:\n%s", out)
	}
	// A service that reports the last minute (discovery-demo): its hit
	// rate then, beside the one since the start.
	demo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"kinds":{"intent":{"hits":9,"misses":1,"last_minute":{"reads":4,"hit_rate":0.5}}}}`)
	}))
	defer demo.Close()
	code, out, _ = cli(t, "", "stats", "--service", demo.URL)
	if code != 0 || !regexpMatch(out, `intent\s+0\s+90\.0%\s+50\.0%\s+60–75%`) {
		t.Errorf("stats --service of a service with the last minute = %d\n%s", code, out)
	}

	// clear: a dry run counts, then the kind goes, and nothing else.
	code, out, _ = cli(t, "", "clear", "search", "--dry-run")
	if code != 0 || !strings.Contains(out, "would remove 3 keys") {
		t.Errorf("clear --dry-run = %d %s", code, out)
	}
	code, out, _ = cli(t, "", "clear", "search", "--dry-run", "--json")
	if cl := jsonOut(t, "clear --dry-run --json", out); code != 0 || cl["would_remove"] != 3.0 || cl["dry_run"] != true || cl["took_seconds"] == nil {
		t.Errorf("clear --dry-run --json = %d %s", code, out)
	}
	code, _, errOut = cli(t, "", "clear", "search")
	if code != 2 || !strings.Contains(errOut, "--yes") {
		t.Errorf("clear search without a terminal nor --yes = %d %s; want status 2 saying to add --yes", code, errOut)
	}
	if n, _ := c.Clear(ctx, cache.ClearOptions{Kind: cache.KindSearch, DryRun: true}); n != 3 {
		t.Errorf("%d search keys after a clear refused; want 3", n)
	}
	code, out, errOut = cli(t, "", "clear", "search", "--yes")
	if code != 0 || !strings.Contains(out, "removed 3 keys") || !strings.Contains(errOut, "clearing kind search: 3 of 3") {
		t.Errorf("clear search --yes = %d\n%s%s; want the count and a plain progress line", code, out, errOut)
	}
	code, _, errOut = cli(t, "", "clear", "nosuchkind", "--dry-run")
	if code != 1 || !strings.Contains(errOut, `"nosuchkind" has no key`) || !strings.Contains(errOut, "embedding (1)") {
		t.Errorf("clear of an unknown kind = %d %s; want status 1 listing the kinds that have keys", code, errOut)
	}
	if code, out, errOut := cli(t, "", "clear", "search", "--yes"); code != 0 || !strings.Contains(out, "removed 0 keys") {
		t.Errorf("clear of a built-in kind with no key left = %d %s%s; want 0 removed, status 0 (scripts run it twice)", code, out, errOut)
	}
	if n, _ := c.Clear(ctx, cache.ClearOptions{All: true, DryRun: true}); n != 1 {
		t.Errorf("%d keys left after clearing search; want the embedding", n)
	}
	if code, _, _ := cli(t, "", "clear"); code != 2 {
		t.Errorf("clear without a kind = %d; want 2", code)
	}
}

// bench measures and leaves no key behind.
func TestBench(t *testing.T) {
	srv, _ := server(t)
	code, out, errOut := cli(t, "", "bench", "--n", "200", "--json")
	jsonOut(t, "bench --json", out)
	var rep struct {
		Results []benchRow `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Results) != 4 {
		t.Fatalf("bench --json = %d %q %s (%v)", code, out, errOut, err)
	}
	var ops []string
	for _, r := range rep.Results {
		ops = append(ops, fmt.Sprintf("%s×%d", r.Op, r.Concurrency))
		if r.Count != 200 || r.P50 <= 0 || r.P50 > 1 || r.P99 < r.P50 || r.PerSecond <= 0 {
			t.Errorf("bench row %+v; want latencies in seconds", r)
		}
	}
	if got := strings.Join(ops, " "); got != "set×1 get_hit×1 get_miss×1 get_hit_parallel×16" {
		t.Errorf("bench ops %s", got)
	}
	if n, err := srv.CLI("DBSIZE"); err != nil || strings.TrimSpace(n) != "0" {
		t.Errorf("keys left by bench: %q %v", n, err)
	}
}

// On a terminal (a pseudo-terminal from script(1)), clear draws a progress
// bar with the rate and the time left.
func TestClearProgressBarOnTerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("script(1) is needed for the terminal test: apt-get install bsdutils")
	}
	_, c := server(t)
	bin := filepath.Join(t.TempDir(), "cachectl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	kd := cache.Search[int, int](c)
	ins := make([]int, 5000)
	for i := range ins {
		ins[i] = i
	}
	for i := 0; i < len(ins); i += 500 { // in parts: one round trip of 5,000 may outlast OperationTimeout on a busy machine
		if err := kd.SetMany(ctx, ins[i:i+500], ins[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("script", "-qfec", bin+" clear search", "/dev/null")
	cmd.Env = os.Environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = strings.NewReader("yes\n") // the answer to its question, through the terminal
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cachectl clear on a terminal: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("cachectl clear on a terminal did not end:\n%s", out.String())
	}
	s := out.String()
	// Every rate shown is one a clear can reach: 5000 keys take
	// milliseconds, not the microsecond between the bar's start and its
	// first count (which once showed over 100 million keys/s).
	for _, m := range regexp.MustCompile(`(\d+) keys/s`).FindAllStringSubmatch(s, -1) {
		if n, _ := strconv.Atoi(m[1]); n > 20_000_000 {
			t.Errorf("the progress bar shows %d keys/s", n)
		}
	}
	if !strings.Contains(s, "This will remove 5000 keys of kind search") {
		t.Errorf("clear on a terminal did not ask first:\n%q", s)
	}
	if !strings.Contains(s, "clearing kind search") || !strings.Contains(s, "100%") || !strings.Contains(s, "5000/5000") ||
		!strings.Contains(s, "keys/s") || !strings.Contains(s, "removed 5000 keys") {
		t.Errorf("terminal output has no progress bar with count, rate and completion:\n%q", s)
	}
	if strings.Contains(s, "s3cret-pw") {
		t.Error("the terminal output shows the password")
	}
}

func regexpMatch(s, pattern string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// jsonOut decodes one --json output and fails t unless it has the stable
// form (jsonshape.Check) and holds ok as a boolean.
func jsonOut(t *testing.T, what, out string) map[string]any {
	t.Helper()
	v := jsonshape.Check(t, what, []byte(out), 3600, "kinds", "keys")
	if _, ok := v["ok"].(bool); !ok {
		t.Errorf("%s: no boolean ok:\n%s", what, out)
	}
	return v
}

// warm without --force leaves alone the values the service cached, in
// its own codec (CBOR for plain structs): it read them as JSON, failed,
// took them for misses, and replaced them with its loader's. inspect
// shows their integers exact.
func TestWarmNeverReplacesCachedValues(t *testing.T) {
	_, c := server(t)
	ctx := context.Background()
	type hit struct {
		ID    int64   `json:"id"`
		Score float64 `json:"score"`
	}
	type intent struct {
		Genre string `json:"genre"`
		Year  int    `json:"year"`
	}
	const big = 9007199254740993
	if err := cache.Search[string, []hit](c).Set(ctx, "cached", []hit{{ID: big, Score: 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := cache.Intents[intent](c, "").Set(ctx, "cached", intent{Genre: "noir", Year: 1946}); err != nil {
		t.Fatal(err)
	}
	// Values an untyped read must take as values too: an empty result (a
	// nil slice) and a map keyed by integers, both stored as CBOR.
	if err := cache.Search[string, []hit](c).Set(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if err := cache.Search[string, map[int]string](c).Set(ctx, "by id", map[int]string{7: "x"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "\"empty\"\n\"by id\"\n", "warm", "search", "--input", "-", "--loader-cmd", `echo '"from the loader"'`)
	if code != 0 || !strings.Contains(out, "2 inputs, 2 already cached, 0 loaded") {
		t.Errorf("warm over an empty result and an int-keyed map = %d\n%s%s; want both cached", code, out, errOut)
	}
	for _, kind := range []string{"search", "intent"} {
		code, out, errOut = cli(t, "\"cached\"\n\"new\"\n", "warm", kind, "--input", "-", "--loader-cmd", `echo '"from the loader"'`)
		if code != 0 || !strings.Contains(out, "2 inputs, 1 already cached, 1 loaded, 0 failed") {
			t.Errorf("warm %s over a value the service cached = %d\n%s%s", kind, code, out, errOut)
		}
	}
	if v, ok, err := cache.Search[string, []hit](c).Get(ctx, "cached"); !ok || err != nil || len(v) != 1 || v[0].ID != big {
		t.Errorf("the service's search value after warm: %+v, %v, %v; want it untouched", v, ok, err)
	}
	if v, ok, err := cache.Intents[intent](c, "").Get(ctx, "cached"); !ok || err != nil || v.Year != 1946 {
		t.Errorf("the service's intent after warm: %+v, %v, %v; want it untouched", v, ok, err)
	}
	code, out, _ = cli(t, "", "inspect", "search", "cached", "--json")
	if code != 0 || !strings.Contains(out, "cbor") || !regexpMatch(out, `"id":\s*9007199254740993`) {
		t.Errorf("inspect of a CBOR value = %d\n%s; want its id exact", code, out)
	}
}

// version says what was built: the module's version, the commit, Go's.
func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "cachectl ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version = %d %q", code, out)
	}
	code, out, _ = cli(t, "", "version", "--json")
	jsonOut(t, "version --json", out)
	var v struct{ Version, Commit, Go string }
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil || v.Version == "" || v.Commit == "" || v.Go != runtime.Version() {
		t.Errorf("version --json = %d %q (%v)", code, out, err)
	}
}

// A failure to reach Redis with a hint of the library's gets it in the
// command's terms; one without gets the command's own, once.
func TestCLIHint(t *testing.T) {
	with := cliHint(&cache.Error{Op: cache.OpConnect, Class: cache.ErrUnavailable, Hint: "is Redis running there? set Config.URL or REDIS_URL"})
	if msg := with.Error(); !strings.Contains(msg, "--url (or REDIS_URL)") || strings.Contains(msg, "Config.") {
		t.Errorf("a library hint in the command's terms: %q", msg)
	}
	without := cliHint(&cache.Error{Op: cache.OpConnect, Class: cache.ErrUnavailable, Cause: errors.New("i/o timeout")})
	if msg := without.Error(); strings.Count(msg, "reachable from here") != 1 || !errors.Is(without, cache.ErrUnavailable) {
		t.Errorf("a failure with no hint: %q; want the command's own hint, once, and the class kept", msg)
	}
	if other := cliHint(&cache.Error{Op: cache.OpConnect, Class: cache.ErrOperation}); strings.Contains(other.Error(), "reachable") {
		t.Errorf("a refusal of Redis got the hint of an unreachable one: %q", other)
	}
}

// inspect --canonical shows a text's canonical form and finds the value a
// service with canonical keys stored under another spelling.
func TestInspectCanonical(t *testing.T) {
	server(t) // sets REDIS_URL for the commands
	ctx := context.Background()
	svc, err := cache.New(ctx, cache.Config{URL: os.Getenv("REDIS_URL"), Policy: cache.Policy{CanonicalKeys: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := cache.Search[string, string](svc).Set(ctx, "Tom Hanks comedies from the '90s!", "v"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "", "inspect", "search", "--canonical", "90s comedies with tom hanks")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("canonical form  1990s | comedies | tom hanks (rules v%d)", cache.CanonicalVersion)) || !strings.Contains(out, "exists          yes") {
		t.Errorf("inspect --canonical of a paraphrase = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = cli(t, "", "inspect", "search", "--canonical", "--json", "90s comedies with tom hanks")
	if v := jsonOut(t, "inspect --canonical --json", out); code != 0 || v["canonical_form"] != "1990s | comedies | tom hanks" || v["canonical_version"] != float64(cache.CanonicalVersion) {
		t.Errorf("inspect --canonical --json = %d\n%s", code, out)
	}
	if code, _, _ := cli(t, "", "inspect", "search", "90s comedies with tom hanks"); code != 1 {
		t.Errorf("inspect without --canonical of the paraphrase = %d; want 1 (its exact key holds nothing)", code)
	}
	if code, _, errOut := cli(t, "", "inspect", "embedding", "--model", "m", "--canonical", "x"); code != 2 || !strings.Contains(errOut, "--canonical") {
		t.Errorf("inspect embedding --canonical = %d %s; want a usage error", code, errOut)
	}
}
