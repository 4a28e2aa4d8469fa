package http

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, in a registry of their own.
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	storeErrors prometheus.Counter
	// byRoute holds each route's success counter and latency histogram
	// (*routeMetrics by route name), found once: WithLabelValues hashes
	// its labels and takes a lock on every call. Route names are the
	// server's own (never a client's string), so it stays small.
	byRoute sync.Map
}

// routeMetrics are one route's most used series.
type routeMetrics struct {
	ok      prometheus.Counter
	latency prometheus.Observer
}

// NewMetrics returns metrics registered in a new registry, together with
// the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bankgate_http_requests_total",
			Help: "HTTP requests by route and result type (\"ok\" for success, else the Dapi error type).",
		}, []string{"route", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bankgate_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bankgate_store_errors_total",
			Help: "Requests that failed because of a store error (internal or unavailable).",
		}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(route string, storeErr bool, typ string, d time.Duration) {
	if m == nil {
		return
	}
	rm, ok := m.byRoute.Load(route)
	if !ok {
		rm, _ = m.byRoute.LoadOrStore(route, &routeMetrics{
			ok: m.requests.WithLabelValues(route, "ok"), latency: m.latency.WithLabelValues(route)})
	}
	r := rm.(*routeMetrics)
	if typ == "" {
		r.ok.Inc()
	} else {
		m.requests.WithLabelValues(route, typ).Inc()
	}
	r.latency.Observe(d.Seconds())
	if storeErr {
		m.storeErrors.Inc()
	}
}
