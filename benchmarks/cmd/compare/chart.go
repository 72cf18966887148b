package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// clampedLog is a log scale on which bars, which start at zero, start at
// the axis' minimum instead.
type clampedLog struct{}

func (clampedLog) Normalize(min, max, x float64) float64 {
	if x < min {
		x = min
	}
	return plot.LogScale{}.Normalize(min, max, x)
}

// drawChart draws the throughput of hot reads (Zipf keys, 8 goroutines) of
// every stack, for each value, on a log scale.
func drawChart(r report, path string) error {
	var names []string
	seen := map[string]bool{}
	for _, c := range r.Cells {
		for _, s := range c.Stacks {
			if !seen[s.Stack] && s.Stack != baselineSet {
				seen[s.Stack] = true
				names = append(names, s.Stack)
			}
		}
	}
	p := plot.New()
	p.Title.Text = "Cache hits per second, Zipf keys, 8 goroutines (log scale)"
	p.Y.Label.Text = "hits per second"
	p.Y.Scale = clampedLog{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}}
	width := vg.Points(18)
	drawn := 0
	for i, value := range []string{valueSearch, valueEmbedding} {
		c, ok := r.cell("read", value, "zipf", 8)
		if !ok {
			continue
		}
		vals := make(plotter.Values, len(names))
		for j, n := range names {
			if s := c.find(n); s != nil {
				vals[j] = s.Median.OpsPerSec
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return err
		}
		bars.Color = colors[i]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(2*i-1) * width / 2
		p.Add(bars)
		p.Legend.Add(value, bars)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("-chart: no read workload with Zipf keys and 8 goroutines was measured")
	}
	p.NominalX(names...)
	p.Y.Min = 1e3
	p.Y.Max *= 2
	return p.Save(11*vg.Inch, 5*vg.Inch, path)
}
