package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A short run of the whole command: every stack answers every workload
// without errors, the report has its sections, and the JSON and the chart
// are written. The figures of so short a run mean nothing.
func TestCompareRuns(t *testing.T) {
	dir := t.TempDir()
	jsonPath, chartPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.png")
	var out bytes.Buffer
	err := run([]string{"-duration", "20ms", "-passes", "2", "-keys", "50", "-concurrency", "8", "-dists", "zipf",
		"-coherence", "2", "-json", jsonPath, "-chart", chartPath}, &out)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"## Targets", "## Coherence", "### read search-20, zipf keys, 8 goroutines",
		"### write embedding-1536, zipf keys, 8 goroutines", "| cache (near on) |", "| go-redis/cache + TinyLFU |",
		"| rueidis SET of encoded bytes |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	var rep report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cells {
		for _, s := range c.Stacks {
			if len(s.Passes) != 2 || s.Median.Errors != 0 || s.Median.OpsPerSec <= 0 {
				t.Errorf("%s on %s: %d passes, %d errors, %v ops/s", s.Stack, c.Workload, len(s.Passes), s.Median.Errors, s.Median.OpsPerSec)
			}
		}
	}
	for _, f := range rep.Coherence {
		if f.Stack == "cache (near on)" && !f.Coherent {
			t.Errorf("this cache is not coherent: %+v", f)
		}
	}
	if fi, err := os.Stat(chartPath); err != nil || fi.Size() < 1000 {
		t.Errorf("chart: %v, %v", fi, err)
	}
	// The same report, rendered again from the JSON alone.
	var again bytes.Buffer
	if err := run([]string{"-from", jsonPath}, &again); err != nil {
		t.Fatal(err)
	}
	if again.String() != text {
		t.Errorf("the report rendered from the JSON differs:\n%s\nwant\n%s", again.String(), text)
	}
}

// A run of one value only: the write baseline reads the stored bytes of
// that value alone, and the targets compare writes with rueidis +
// encoding/json.
func TestOneValue(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-duration", "20ms", "-passes", "1", "-keys", "20", "-concurrency", "8", "-dists", "zipf",
		"-values", valueSearch, "-ops", "write", "-coherence", "0"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| rueidis SET of encoded bytes |", "writes of search-20, zipf keys, 8 goroutines, near cache off: vs rueidis + encoding/json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), valueEmbedding) {
		t.Errorf("report of %s has %s", valueSearch, valueEmbedding)
	}
}

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{{"-values", "video"}, {"-dists", "pareto"}, {"-concurrency", "0"}, {"-ops", "delete"}, {"-passes", "0"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
