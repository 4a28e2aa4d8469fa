package http

import (
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
	result := typ
	if result == "" {
		result = "ok"
	}
	m.requests.WithLabelValues(route, result).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
	if storeErr {
		m.storeErrors.Inc()
	}
}
