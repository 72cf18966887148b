package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/media-gateway/discovery/internal/redistest"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Templating struct {
		List []struct{ Name, Type string }
	}
	Panels []panel
}

type panel struct {
	Type, Title, Description string
	Datasource               struct{ UID string }
	Targets                  []struct{ Expr, LegendFormat string }
	Panels                   []panel // a collapsed row's
}

// The Grafana dashboard in docs/: every panel's query, run by Prometheus'
// own engine over real scrapes of the demo with traffic between them,
// gives a result, and every label its legend names survives the query's
// aggregation; every panel says what it shows, takes the data source and
// the job and instance from the dashboard's variables, and rates over
// $__rate_interval.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	vars := map[string]string{}
	for _, v := range dash.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" {
		t.Errorf("dashboard variables %v; want a datasource, a job and an instance", vars)
	}

	// Six scrapes 15 s apart (in the stored samples' time), with traffic
	// between them: the first before any request, as after a start.
	srv := redistest.Start(t)
	_, web := start(t, srv.URL(), 0.05)
	store := teststorage.New(t)
	base := time.Unix(1_800_000_000, 0)
	const scrapes = 6
	for i := range scrapes {
		if i > 0 {
			resp, err := http.Post(web.URL+"/traffic?n=300", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		appendScrape(t, store, web.URL+"/metrics", base.Add(time.Duration(i)*15*time.Second))
	}
	at := base.Add((scrapes - 1) * 15 * time.Second)

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 10_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	vars2 := strings.NewReplacer(`$job`, ".*", `$instance`, ".*", `$__rate_interval`, "1m")
	legendLabel := regexp.MustCompile(`{{\s*(\w+)\s*}}`)
	fixedRange := regexp.MustCompile(`\[\d+[smhd]\]`)
	selector := regexp.MustCompile(`discovery_cache_\w+(\{[^}]*\})?`)
	queries := 0
	var panels []panel
	for _, p := range dash.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	for _, p := range panels {
		if p.Type == "row" {
			continue
		}
		if p.Description == "" {
			t.Errorf("panel %q has no description", p.Title)
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q has data source %q; want ${datasource}", p.Title, p.Datasource.UID)
		}
		for _, target := range p.Targets {
			queries++
			if fixedRange.MatchString(target.Expr) {
				t.Errorf("panel %q: %s rates over a fixed range; want $__rate_interval", p.Title, target.Expr)
			}
			for _, sel := range selector.FindAllString(target.Expr, -1) {
				if !strings.Contains(sel, `job=~"$job"`) || !strings.Contains(sel, `instance=~"$instance"`) {
					t.Errorf("panel %q: %s is not filtered by $job and $instance", p.Title, sel)
				}
			}
			q := vars2.Replace(target.Expr)
			qry, err := engine.NewInstantQuery(context.Background(), store, nil, q, at)
			if err != nil {
				t.Errorf("panel %q: %s: %v", p.Title, q, err)
				continue
			}
			res := qry.Exec(context.Background())
			vec, err := res.Vector()
			if err != nil {
				t.Errorf("panel %q: %s: %v", p.Title, q, err)
				continue
			}
			numbers := 0
			for _, s := range vec {
				if !math.IsNaN(s.F) {
					numbers++
				}
				for _, m := range legendLabel.FindAllStringSubmatch(target.LegendFormat, -1) {
					if s.Metric.Get(m[1]) == "" {
						t.Errorf("panel %q: legend %q names %s, which %s drops: %v", p.Title, target.LegendFormat, m[1], q, s.Metric)
					}
				}
			}
			if numbers == 0 {
				t.Errorf("panel %q: %s gives no number (%d series): the panel would say No data", p.Title, q, len(vec))
			}
			qry.Close()
		}
	}
	if queries < 20 {
		t.Errorf("the dashboard has %d queries; want its panels'", queries)
	}
}

// appendScrape scrapes url, as Prometheus would with job "demo" and
// instance "demo-1", and stores the cache's samples at ts.
func appendScrape(t *testing.T, store *teststorage.TestStorage, url string, ts time.Time) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	app := store.Appender(context.Background())
	ms := ts.UnixMilli()
	add := func(name string, m *dto.Metric, v float64, extra ...string) {
		l := map[string]string{"__name__": name, "job": "demo", "instance": "demo-1"}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		if _, err := app.Append(0, labels.FromMap(l), ms, v); err != nil {
			t.Fatalf("storing %s: %v", name, err)
		}
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "discovery_cache_") {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				add(name, m, m.Counter.GetValue())
			case m.Gauge != nil:
				add(name, m, m.Gauge.GetValue())
			case m.Histogram != nil:
				h := m.Histogram
				for _, b := range h.GetBucket() {
					add(name+"_bucket", m, float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
				add(name+"_bucket", m, float64(h.GetSampleCount()), "le", "+Inf")
				add(name+"_sum", m, h.GetSampleSum())
				add(name+"_count", m, float64(h.GetSampleCount()))
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}
