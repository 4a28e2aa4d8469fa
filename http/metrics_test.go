package http

import (
	"testing"
	"time"
)

// TestMetricsObserve: successes and errors are counted by route and
// result, and every request is in its route's latency histogram.
func TestMetricsObserve(t *testing.T) {
	m := NewMetrics()
	m.observe("/data/balance/get", false, "", time.Millisecond)
	m.observe("/data/balance/get", false, "", 2*time.Millisecond)
	m.observe("/data/balance/get", false, "INVALID_TOKEN", time.Millisecond)
	m.observe("/data/accounts/get", true, "UNKNOWN_ERROR", time.Millisecond)
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}  // route|result -> requests
	observed := map[string]uint64{} // route -> latency samples
	var storeErrs float64
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "bankgate_http_requests_total":
				counts[labels["route"]+"|"+labels["result"]] = mt.GetCounter().GetValue()
			case "bankgate_http_request_duration_seconds":
				observed[labels["route"]] = mt.GetHistogram().GetSampleCount()
			case "bankgate_store_errors_total":
				storeErrs = mt.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"/data/balance/get|ok":             2,
		"/data/balance/get|INVALID_TOKEN":  1,
		"/data/accounts/get|UNKNOWN_ERROR": 1,
	} {
		if counts[key] != want {
			t.Errorf("requests %s = %v, want %v (all: %v)", key, counts[key], want, counts)
		}
	}
	if observed["/data/balance/get"] != 3 || observed["/data/accounts/get"] != 1 {
		t.Errorf("latency samples %v, want 3 for balance and 1 for accounts", observed)
	}
	if storeErrs != 1 {
		t.Errorf("store errors %v, want 1", storeErrs)
	}
}
