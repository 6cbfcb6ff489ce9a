package ui

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// Every metric the shipped Grafana dashboard queries is one the server
// exports.
func TestGrafanaDashboardMetrics(t *testing.T) {
	b, err := os.ReadFile("../examples/grafana/microbatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	m := newMetrics("g", nil)
	m.observe(progress(0))
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range fams {
		exported[f.GetName()] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			exported[f.GetName()+suffix] = true
		}
	}
	name := regexp.MustCompile(`\b((?:microbatch|kafka)_[a-z_]+)`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllStringSubmatch(tg.Expr, -1) {
				n++
				if !exported[m[1]] {
					t.Errorf("panel %q queries %s, which the server does not export", p.Title, m[1])
				}
			}
		}
	}
	if n < 9 {
		t.Fatalf("the dashboard queries %d metrics", n)
	}
}
