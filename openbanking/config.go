package openbanking

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"go.yaml.in/yaml/v3"
)

// BankConfig is one bank of a banks file: what the operator gets from the
// bank's directory when it registers bankgate as a TPP. Paths are relative
// to the file.
type BankConfig struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Country string `yaml:"country"`
	Logo    string `yaml:"logo"`
	// Issuer is the authorisation server's issuer; its discovery document
	// is at Issuer + /.well-known/openid-configuration unless
	// DiscoveryURL says otherwise.
	Issuer       string `yaml:"issuer"`
	DiscoveryURL string `yaml:"discoveryURL"`
	// APIBaseURL is the Account and Transaction API's base, e.g.
	// https://bank.example/open-banking/v3.1/aisp.
	APIBaseURL     string `yaml:"apiBaseURL"`
	ClientID       string `yaml:"clientID"`
	SigningKeyFile string `yaml:"signingKeyFile"`
	SigningKeyID   string `yaml:"signingKeyID"`
	TLSCertFile    string `yaml:"tlsCertFile"`
	TLSKeyFile     string `yaml:"tlsKeyFile"`
	// CAFile is the CA bundle the bank's servers are verified with; empty
	// means the system's.
	CAFile string `yaml:"caFile"`
	// Sandbox marks the bank's test environment: the bank is then a
	// sandbox bank (for sandbox apps) instead of a production one.
	Sandbox bool `yaml:"sandbox"`

	signer  jose.SigningKey
	tlsCert tls.Certificate
	caPool  *x509.CertPool
}

type banksFile struct {
	Banks []BankConfig `yaml:"banks"`
}

var bankIDRe = regexp.MustCompile(`^[A-Z0-9_]{3,64}$`)

// LoadBanks reads a banks file and the keys and certificates it names.
func LoadBanks(path string) ([]BankConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("banks file: %w", err)
	}
	var f banksFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("banks file %s: %w", path, err)
	}
	if len(f.Banks) == 0 {
		return nil, fmt.Errorf("banks file %s: no banks", path)
	}
	dir := filepath.Dir(path)
	seen := map[string]bool{}
	out := make([]BankConfig, 0, len(f.Banks))
	for i := range f.Banks {
		b := f.Banks[i]
		if err := b.load(dir); err != nil {
			return nil, fmt.Errorf("banks file %s: bank %d (%s): %w", path, i+1, b.ID, err)
		}
		if seen[b.ID] {
			return nil, fmt.Errorf("banks file %s: bank ID %s twice", path, b.ID)
		}
		seen[b.ID] = true
		out = append(out, b)
	}
	return out, nil
}

func rel(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// load checks the entry and reads its keys and certificates.
func (b *BankConfig) load(dir string) error {
	switch {
	case !bankIDRe.MatchString(b.ID):
		return errors.New("id must be 3 to 64 of A-Z, 0-9 and _")
	case b.Name == "":
		return errors.New("name is required")
	case len(b.Country) != 2:
		return errors.New("country must be an ISO 3166-1 alpha-2 code")
	case !httpsURL(b.Issuer):
		return errors.New("issuer must be an https URL")
	case b.DiscoveryURL != "" && !httpsURL(b.DiscoveryURL):
		return errors.New("discoveryURL must be an https URL")
	case !httpsURL(b.APIBaseURL):
		return errors.New("apiBaseURL must be an https URL")
	case b.ClientID == "":
		return errors.New("clientID is required")
	case b.SigningKeyFile == "" || b.SigningKeyID == "":
		return errors.New("signingKeyFile and signingKeyID are required (private_key_jwt)")
	case b.TLSCertFile == "" || b.TLSKeyFile == "":
		return errors.New("tlsCertFile and tlsKeyFile are required (mutual TLS)")
	}
	b.Country = strings.ToUpper(b.Country)
	b.Issuer = strings.TrimSuffix(b.Issuer, "/")
	b.APIBaseURL = strings.TrimSuffix(b.APIBaseURL, "/")
	if b.DiscoveryURL == "" {
		b.DiscoveryURL = b.Issuer + "/.well-known/openid-configuration"
	}
	key, err := readKey(rel(dir, b.SigningKeyFile))
	if err != nil {
		return fmt.Errorf("signingKeyFile: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 256 {
			return errors.New("signingKeyFile: an EC key must be P-256 (ES256)")
		}
		b.signer = jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: b.SigningKeyID}}
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return errors.New("signingKeyFile: an RSA key must have at least 2048 bits (PS256)")
		}
		b.signer = jose.SigningKey{Algorithm: jose.PS256, Key: jose.JSONWebKey{Key: k, KeyID: b.SigningKeyID}}
	default:
		return errors.New("signingKeyFile: the key must be EC P-256 (ES256) or RSA (PS256)")
	}
	if b.tlsCert, err = tls.LoadX509KeyPair(rel(dir, b.TLSCertFile), rel(dir, b.TLSKeyFile)); err != nil {
		return fmt.Errorf("tlsCertFile/tlsKeyFile: %w", err)
	}
	if b.CAFile != "" {
		pemBytes, err := os.ReadFile(rel(dir, b.CAFile))
		if err != nil {
			return fmt.Errorf("caFile: %w", err)
		}
		b.caPool = x509.NewCertPool()
		if !b.caPool.AppendCertsFromPEM(pemBytes) {
			return errors.New("caFile: no PEM certificate in it")
		}
	}
	return nil
}

func readKey(path string) (crypto.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, SEC 1 or PKCS#1 private key")
}
