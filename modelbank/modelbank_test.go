package modelbank

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T) (*Bank, string) {
	t.Helper()
	dir := t.TempDir()
	b, srv, _, err := Start("127.0.0.1:0", Options{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return b, dir
}

// clients: one without a client certificate, one with the registered one.
func clients(t *testing.T, b *Bank, dir string) (anon, tpp *http.Client) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, FileClientCert), filepath.Join(dir, FileClientKey))
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	anon = &http.Client{Timeout: 5 * time.Second, CheckRedirect: noRedirect,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool()}}}
	tpp = &http.Client{Timeout: 5 * time.Second, CheckRedirect: noRedirect,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: b.CAPool(), Certificates: []tls.Certificate{cert}}}}
	return anon, tpp
}

func TestWritesFilesAndServesDiscovery(t *testing.T) {
	b, dir := start(t)
	for _, f := range []string{FileBanks, FilePSUs, FileCA, FileClientCert, FileClientKey, FileClientSignKey} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FilePSUs))
	var psus []PSU
	if err := json.Unmarshal(raw, &psus); err != nil || len(psus) < 2 || psus[0].Username == "" || psus[0].Password == "" {
		t.Fatalf("psus.json: %s %v", raw, err)
	}
	banks, _ := os.ReadFile(filepath.Join(dir, FileBanks))
	for _, k := range []string{"id:", "name:", "country:", "issuer: " + b.Issuer(), "apiBaseURL:", "clientID:", "signingKeyFile:", "signingKeyID:", "tlsCertFile:", "tlsKeyFile:", "caFile:"} {
		if !strings.Contains(string(banks), k) {
			t.Errorf("banks.yaml lacks %q:\n%s", k, banks)
		}
	}
	anon, _ := clients(t, b, dir)
	res, err := anon.Get(b.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer": b.Issuer(), "pushed_authorization_request_endpoint": b.Issuer() + pathPAR,
		"require_pushed_authorization_requests": true, "authorization_response_iss_parameter_supported": true,
		"token_endpoint": b.Issuer() + pathToken, "jwks_uri": b.Issuer() + "/keys",
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("discovery %s = %v, want %v", k, doc[k], v)
		}
	}
	if m, _ := doc["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("code_challenge_methods_supported %v", doc["code_challenge_methods_supported"])
	}
	if m, _ := doc["token_endpoint_auth_methods_supported"].([]any); len(m) != 1 || m[0] != "private_key_jwt" {
		t.Errorf("token_endpoint_auth_methods_supported %v", doc["token_endpoint_auth_methods_supported"])
	}
}

func TestRefusesWhatFAPIForbids(t *testing.T) {
	b, dir := start(t)
	anon, tpp := clients(t, b, dir)
	status := func(c *http.Client, method, path string, form url.Values, hdr map[string]string) int {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, b.Issuer()+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}, "client_id": {ClientID}}
	cases := []struct {
		name   string
		c      *http.Client
		method string
		path   string
		form   url.Values
		hdr    map[string]string
		want   int
	}{
		{"authorize without PAR", anon, "GET", pathAuthorize + "?client_id=" + ClientID + "&response_type=code&redirect_uri=https://x/cb&scope=openid", nil, nil, 400},
		{"authorize with an unknown request_uri", anon, "GET", pathAuthorize + "?client_id=" + ClientID + "&request_uri=urn:ietf:params:oauth:request_uri:nope", nil, nil, 400},
		{"PAR without a client certificate", anon, "POST", pathPAR, url.Values{"client_id": {ClientID}}, nil, 401},
		{"PAR without a client assertion", tpp, "POST", pathPAR, url.Values{"client_id": {ClientID}, "response_type": {"code"}}, nil, 401},
		{"token without a client certificate", anon, "POST", pathToken, cc, nil, 401},
		{"token with a client secret", tpp, "POST", pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {"x"}}, nil, 401},
		{"a forged client assertion", tpp, "POST", pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"eyJhbGciOiJub25lIn0.e30."}}, nil, 401},
		{"accounts without a token", tpp, "GET", APIPrefix + "/accounts", nil, nil, 401},
		{"accounts with a made-up token", tpp, "GET", APIPrefix + "/accounts", nil, map[string]string{"Authorization": "Bearer abc"}, 401},
		{"consents without a token", tpp, "POST", APIPrefix + "/account-access-consents", nil, nil, 401},
		{"login page of an unknown request", anon, "GET", pathLogin + "?id=nope", nil, nil, 400},
		{"consent of an unknown request", anon, "POST", pathConsent, url.Values{"id": {"nope"}, "decision": {"approve"}}, nil, 400},
	}
	for _, c := range cases {
		if got := status(c.c, c.method, c.path, c.form, c.hdr); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	// What any client may read: the keys, without a client certificate.
	if _, err := anon.Get(b.Issuer() + "/keys"); err != nil {
		t.Fatalf("JWKS without a client certificate: %v", err)
	}
}

func TestConsentStatusTransitions(t *testing.T) {
	s := newConsentStore()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := now.Add(24 * time.Hour)
	s.add(&consent{ID: "a", ClientID: ClientID, Status: StatusAwaiting, Created: now, Updated: now, Expiration: &exp})
	if err := s.usable("a", now); err == nil {
		t.Fatal("an unauthorised consent is usable")
	}
	if !s.awaiting("a", ClientID, now) || s.awaiting("a", "other", now) {
		t.Fatal("awaiting")
	}
	if s.authorise("a", "u", now.Add(2*time.Hour)) {
		t.Fatal("authorised after the authorisation window")
	}
	if !s.authorise("a", "u", now) || s.authorise("a", "u", now) {
		t.Fatal("authorise once")
	}
	if err := s.usable("a", now); err != nil {
		t.Fatal(err)
	}
	if err := s.usable("a", exp); err != errConsentExpired {
		t.Fatalf("at expiry: %v", err)
	}
	s.reject("a", now) // no effect once authorised
	if c, _ := s.get("a"); c.Status != StatusAuthorised {
		t.Fatalf("status %s", c.Status)
	}
	if !s.revoke("a", ClientID, now) || s.usable("a", now) != errConsentStatus {
		t.Fatal("revoke")
	}
	if s.revoke("a", "other", now) {
		t.Fatal("another client revoked the consent")
	}
	s.add(&consent{ID: "b", ClientID: ClientID, Status: StatusAwaiting, Created: now})
	s.reject("b", now)
	if c, _ := s.get("b"); c.Status != StatusRejected || s.authorise("b", "u", now) {
		t.Fatal("reject")
	}
}
