package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// walkStrings calls fn with every string in a decoded JSON value.
func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

var metricRef = regexp.MustCompile(`\blvsd_[a-z0-9_]+`)

// TestGrafanaDashboard checks examples/grafana-dashboard.json: valid JSON,
// every panel with queries, and every lvsd_ name it uses one this package
// exports (histograms through their _bucket, _sum and _count series).
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../../examples/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	names := Names()
	histograms := []string{"lvsd_check_duration_seconds", "lvsd_sync_duration_seconds", "lvsd_verdict_to_kernel_seconds"}
	used := map[string]bool{}
	walkStrings(dash, func(s string) {
		for _, ref := range metricRef.FindAllString(s, -1) {
			name := ref
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(ref, suf); base != ref && slices.Contains(histograms, base) {
					name = base
				}
			}
			if _, found := slices.BinarySearch(names, name); !found {
				t.Errorf("the dashboard uses %s, which lvsd does not export", ref)
			}
			used[name] = true
		}
	})
	if len(used) < 30 {
		t.Errorf("the dashboard uses only %d metrics", len(used))
	}
	ids := map[float64]bool{}
	panels, _ := dash["panels"].([]any)
	for _, p := range panels {
		p := p.(map[string]any)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel id %v twice", id)
		}
		ids[id] = true
		if p["type"] == "row" {
			continue
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", p["title"])
		}
		for _, tg := range targets {
			if expr, _ := tg.(map[string]any)["expr"].(string); !strings.Contains(expr, "lvsd_") {
				t.Errorf("panel %q: query %q reads no lvsd metric", p["title"], expr)
			}
		}
	}
	if len(panels) < 20 {
		t.Errorf("%d panels", len(panels))
	}
}

// TestOperationsDocListsEveryMetric keeps docs/operations.md complete.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names() {
		if !strings.Contains(string(b), "`"+n+"`") {
			t.Errorf("docs/operations.md does not document %s", n)
		}
	}
}
