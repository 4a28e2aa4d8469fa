// The banks the connectors serve, and which of them an app may use.

package service

import (
	"context"
	"slices"
	"strings"

	"github.com/bankgate/bankgate"
)

// Banks returns the banks available to the app with the given key, in the
// given countries (all when empty).
func (s *Service) Banks(ctx context.Context, appKey string, countries []string) ([]bankgate.Bank, error) {
	app, err := s.AppByKey(ctx, appKey)
	if err != nil {
		return nil, err
	}
	var out []bankgate.Bank
	for _, b := range s.bankList {
		if !reaches(app, b) {
			continue
		}
		if len(countries) == 0 || slices.ContainsFunc(countries, func(c string) bool { return strings.EqualFold(c, b.Country) }) {
			out = append(out, b)
		}
	}
	return out, nil
}

// reaches reports whether app may use bank b: a production app only real
// banks, any other app only sandbox banks.
func reaches(app *bankgate.App, b bankgate.Bank) bool {
	return b.Sandbox != production(app)
}

func production(app *bankgate.App) bool { return app.Environment == bankgate.EnvProduction }
