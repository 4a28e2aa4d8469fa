package logos

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
)

func TestLogos(t *testing.T) {
	slugs := Slugs()
	if len(slugs) < 6 {
		t.Fatalf("%d logos, want one per sandbox bank", len(slugs))
	}
	nameRE := regexp.MustCompile(`^[a-z0-9]+-[0-9a-f]{12}\.svg$`)
	for _, s := range slugs {
		u := URL(s)
		name, ok := strings.CutPrefix(u, Prefix)
		if !ok || !nameRE.MatchString(name) {
			t.Errorf("URL(%q) = %q", s, u)
			continue
		}
		b, ok := Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) found nothing", name)
			continue
		}
		// Well-formed, self-contained SVG: no scripts, no external
		// references, no event handlers.
		if err := xml.Unmarshal(b, new(struct{})); err != nil {
			t.Errorf("%s: not XML: %v", s, err)
		}
		low := strings.ToLower(string(b))
		for _, bad := range []string{"<script", "href", "url(", "on", "<image", "<foreignobject", "@import"} {
			if bad == "on" {
				if regexp.MustCompile(`\son[a-z]+=`).MatchString(low) {
					t.Errorf("%s has an event handler attribute", s)
				}
				continue
			}
			if strings.Contains(low, bad) {
				t.Errorf("%s contains %q", s, bad)
			}
		}
		if !strings.HasPrefix(low, "<svg xmlns=\"http://www.w3.org/2000/svg\"") || !strings.Contains(low, `viewbox="0 0 64 64"`) {
			t.Errorf("%s does not start as a 64×64 SVG", s)
		}
	}
	if URL("nosuchbank") != "" {
		t.Error("URL of an unknown slug is not empty")
	}
	if _, ok := Lookup("enbd.svg"); ok {
		t.Error("a logo is found without its content hash")
	}
}
