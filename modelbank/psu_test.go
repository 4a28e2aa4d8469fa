package modelbank_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/bankgate/bankgate/modelbank"
)

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authoriseForTest signs the PSU in and approves; it returns the query
// the bank sends the browser back with.
func authoriseForTest(t *testing.T, b *modelbank.Bank, authURL string, psu modelbank.PSU) url.Values {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = hc.Get(b.Issuer() + res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := formID.FindSubmatch(page)
	if m == nil {
		t.Fatalf("login page %s:\n%s", res.Status, page)
	}
	id := string(m[1])
	if res, err = hc.PostForm(b.Issuer()+"/psu/login", url.Values{"id": {id}, "username": {psu.Username}, "password": {psu.Password}}); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, err = hc.PostForm(b.Issuer()+"/psu/consent", url.Values{"id": {id}, "decision": {"approve"}}); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %s %v", res.Status, err)
	}
	return u.Query()
}
