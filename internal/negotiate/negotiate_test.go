package negotiate

import "testing"

func TestGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"gzip": true, "x-gzip": true, "GZIP": true, "*;q=0.1": true, "deflate, gzip": true, "br;q=1.0, gzip;q=0.5": true,
		"br, gzip;q=0": false, "identity": false, "": false, "gzip;level=1;q=0.0": false, "gzip;q=0, *": false, "gzip;q=x": true,
	} {
		if got := Gzip([]string{ae}); got != want {
			t.Errorf("Gzip(%q) = %v, want %v", ae, got, want)
		}
	}
	if !Gzip([]string{"br", "gzip"}) {
		t.Error("a second Accept-Encoding header was not read")
	}
	if n := testing.AllocsPerRun(100, func() { Gzip([]string{"br;q=1.0, gzip;q=0.5"}) }); n != 0 {
		t.Errorf("Gzip allocates %.0f times", n)
	}
}
