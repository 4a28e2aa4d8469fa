// Package negotiate reads what an HTTP client says it accepts. The API
// (package http) and the Connect page (package connect) compress by the
// same rule.
package negotiate

import (
	"strconv"
	"strings"
)

// Gzip reports whether Accept-Encoding values accept gzip: gzip (or
// x-gzip, or *) listed with a q-value above 0. The first such coding
// listed decides. It does not allocate.
func Gzip(values []string) bool {
	for _, v := range values {
		for len(v) > 0 {
			var item string
			item, v, _ = strings.Cut(v, ",")
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") && coding != "*" {
				continue
			}
			return !zeroQ(params)
		}
	}
	return false
}

// zeroQ reports whether Accept-Encoding parameters say q=0.
func zeroQ(params string) bool {
	for len(params) > 0 {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			return err == nil && q <= 0
		}
	}
	return false
}
