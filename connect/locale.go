package connect

import (
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strconv"
	"strings"
)

// The message catalogue: one JSON file per locale in locales/, a flat
// object from message key to text. A text may hold placeholders such as
// {bank} and {app}; a count's text is an object from plural category
// (Intl.PluralRules: zero, one, two, few, many, other) to text. The page
// gets its locale's whole catalogue; the server renders the texts of the
// page shell and of the error pages from it.
//
// Adding a locale is adding its file and its tag to supportedLocales, with
// its direction in rtlLocales when it is written right to left.

//go:embed locales/*.json
var localeFS embed.FS

// supportedLocales lists the locales in the catalogue; the first is the
// default.
var supportedLocales = []string{"en", "ar"}

// rtlLocales are the supported locales written right to left.
var rtlLocales = map[string]bool{"ar": true}

// locale is one locale's catalogue.
type locale struct {
	Tag string // BCP 47 primary language subtag, as in <html lang>
	Dir string // "ltr" or "rtl"
	// JSON is the catalogue as the page gets it.
	JSON json.RawMessage
	// texts are the plain (non-plural) texts, for the server's own pages.
	texts map[string]string
}

var locales = func() map[string]*locale {
	m := make(map[string]*locale, len(supportedLocales))
	for _, tag := range supportedLocales {
		b, err := localeFS.ReadFile("locales/" + tag + ".json")
		if err != nil {
			panic("connect: missing catalogue " + tag)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			panic(fmt.Sprintf("connect: catalogue %s: %v", tag, err))
		}
		l := &locale{Tag: tag, Dir: "ltr", texts: make(map[string]string, len(raw))}
		if rtlLocales[tag] {
			l.Dir = "rtl"
		}
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				l.texts[k] = s
			}
		}
		compact, err := json.Marshal(raw)
		if err != nil {
			panic(err)
		}
		l.JSON = compact
		m[tag] = l
	}
	return m
}()

// T returns the text of key with its placeholders replaced by args, given
// as name, value pairs. A key the catalogue lacks falls back to the default
// locale, then to the key itself, so that a missing text shows up rather
// than leaving a hole.
func (l *locale) T(key string, args ...string) string {
	s, ok := l.texts[key]
	if !ok {
		if s, ok = locales[supportedLocales[0]].texts[key]; !ok {
			s = key
		}
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}

// matchLocale returns the supported locale a language tag such as "ar",
// "ar-AE" or "ar_SA" asks for, or nil.
func matchLocale(tag string) *locale {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return locales[tag]
}

// maxAcceptLanguage bounds the Accept-Language header the page reads.
const maxAcceptLanguage = 512

// negotiateLocale picks the page's locale: the locale parameter when it
// names a supported locale, else the most preferred supported language of
// Accept-Language, else the default. An unsupported or malformed choice is
// not an error: the page falls back as a browser would.
func negotiateLocale(param, acceptLanguage string) *locale {
	if l := matchLocale(param); l != nil {
		return l
	}
	if len(acceptLanguage) > maxAcceptLanguage {
		acceptLanguage = acceptLanguage[:maxAcceptLanguage]
	}
	type pref struct {
		l *locale
		q float64
	}
	var prefs []pref
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if l := matchLocale(tag); l != nil && q > 0 {
			prefs = append(prefs, pref{l, q})
		}
	}
	// Stable: among equal weights the header's order decides.
	slices.SortStableFunc(prefs, func(a, b pref) int { return cmp.Compare(b.q, a.q) })
	if len(prefs) > 0 {
		return prefs[0].l
	}
	return locales[supportedLocales[0]]
}

// Themes the page accepts in its theme parameter.
const (
	ThemeAuto  = "auto" // follow prefers-color-scheme
	ThemeLight = "light"
	ThemeDark  = "dark"
)

// parseTheme returns the theme the theme parameter asks for; anything but
// light or dark follows the browser's preference.
func parseTheme(param string) string {
	if t := strings.ToLower(strings.TrimSpace(param)); slices.Contains([]string{ThemeLight, ThemeDark}, t) {
		return t
	}
	return ThemeAuto
}

// colorScheme is the page's <meta name="color-scheme"> for a theme.
func colorScheme(theme string) string {
	if theme == ThemeAuto {
		return "light dark"
	}
	return theme
}

// HTML returns the text of key, HTML-escaped, with the placeholder {name}
// replaced by value in a <bdi> element, so that a name written in another
// direction (an app's Latin name in Arabic text) keeps its own.
func (l *locale) HTML(key, name, value string) template.HTML {
	s := html.EscapeString(l.T(key))
	return template.HTML(strings.ReplaceAll(s, html.EscapeString("{"+name+"}"), "<bdi>"+html.EscapeString(value)+"</bdi>"))
}
