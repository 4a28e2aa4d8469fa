package modelbank

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is what the model bank generates at start: its CA, its server
// certificate, and the registration of the one client it knows (the
// client's mTLS certificate and its private_key_jwt signing key).
type pki struct {
	caCert     *x509.Certificate
	caPEM      []byte
	serverCert []byte // DER
	serverKey  *ecdsa.PrivateKey

	clientCert    *x509.Certificate
	clientKey     *ecdsa.PrivateKey // the client's mTLS key
	clientSignKey *ecdsa.PrivateKey // the client's private_key_jwt key (ES256)
	clientKeyID   string

	opKey   *ecdsa.PrivateKey // the authorisation server's ID token key
	opKeyID string
}

func newKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return k
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

// keyID is the RFC 7638-style thumbprint of a public key, used as its kid.
func keyID(pub crypto.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// newPKI makes a CA, a server certificate for host, and a client.
func newPKI(host string, now time.Time) (*pki, error) {
	p := &pki{}
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "bankgate model bank CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if p.caCert, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	p.serverKey = newKey()
	srv := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		srv.IPAddresses = append(srv.IPAddresses, ip)
	} else if host != "" && host != "localhost" {
		srv.DNSNames = append(srv.DNSNames, host)
	}
	if p.serverCert, err = x509.CreateCertificate(rand.Reader, srv, p.caCert, &p.serverKey.PublicKey, caKey); err != nil {
		return nil, err
	}

	p.clientKey = newKey()
	cli := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: ClientID, Organization: []string{"bankgate TPP"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cliDER, err := x509.CreateCertificate(rand.Reader, cli, p.caCert, &p.clientKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if p.clientCert, err = x509.ParseCertificate(cliDER); err != nil {
		return nil, err
	}
	p.clientSignKey = newKey()
	p.clientKeyID = keyID(&p.clientSignKey.PublicKey)
	p.opKey = newKey()
	p.opKeyID = keyID(&p.opKey.PublicKey)
	return p, nil
}

// certThumbprint is the x5t#S256 of a certificate (RFC 8705).
func certThumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Files written into the output directory.
const (
	FileBanks         = "banks.yaml"
	FilePSUs          = "psus.json"
	FileCA            = "ca.pem"
	FileClientCert    = "client-cert.pem"
	FileClientKey     = "client-key.pem"
	FileClientSignKey = "client-signing-key.pem"
)

func writePEMKey(path string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// write puts the CA and the client's certificate and keys into dir.
func (p *pki) write(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, FileCA), p.caPEM, 0o644); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.clientCert.Raw})
	if err := os.WriteFile(filepath.Join(dir, FileClientCert), cert, 0o644); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	if err := writePEMKey(filepath.Join(dir, FileClientKey), p.clientKey); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	if err := writePEMKey(filepath.Join(dir, FileClientSignKey), p.clientSignKey); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	return nil
}
