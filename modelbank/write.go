package modelbank

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// BankID is the bank ID the model bank has in the banks.yaml it writes.
const BankID = "MODELBANK_AE_OB31"

// BanksFile is banks.yaml: what a TPP registered with the bank knows of it.
// Paths are relative to the file.
type BanksFile struct {
	Banks []BankEntry `yaml:"banks"`
}

// BankEntry is one bank of banks.yaml.
type BankEntry struct {
	ID             string `yaml:"id"`
	Name           string `yaml:"name"`
	Country        string `yaml:"country"`
	Logo           string `yaml:"logo,omitempty"`
	Issuer         string `yaml:"issuer"`
	APIBaseURL     string `yaml:"apiBaseURL"`
	ClientID       string `yaml:"clientID"`
	SigningKeyFile string `yaml:"signingKeyFile"`
	SigningKeyID   string `yaml:"signingKeyID"`
	TLSCertFile    string `yaml:"tlsCertFile"`
	TLSKeyFile     string `yaml:"tlsKeyFile"`
	CAFile         string `yaml:"caFile"`
	Sandbox        bool   `yaml:"sandbox,omitempty"`
}

// Entry is the model bank's entry in banks.yaml.
func (b *Bank) Entry() BankEntry {
	return BankEntry{
		ID: BankID, Name: "bankgate Model Bank", Country: "AE",
		Issuer: b.issuer, APIBaseURL: b.issuer + APIPrefix, ClientID: ClientID,
		SigningKeyFile: FileClientSignKey, SigningKeyID: b.pki.clientKeyID,
		TLSCertFile: FileClientCert, TLSKeyFile: FileClientKey, CAFile: FileCA,
	}
}

// Write puts into dir (made if missing) banks.yaml, psus.json, the CA
// certificate and the client's certificate and keys.
func (b *Bank) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	if err := b.pki.write(dir); err != nil {
		return err
	}
	y, err := yaml.Marshal(BanksFile{Banks: []BankEntry{b.Entry()}})
	if err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	head := "# Written by bankgate modelbank: its registration of the TPP " + ClientID + ".\n# Paths are relative to this file.\n"
	if err := os.WriteFile(filepath.Join(dir, FileBanks), append([]byte(head), y...), 0o644); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	j, err := json.MarshalIndent(PSUs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, FilePSUs), append(j, '\n'), 0o644); err != nil {
		return fmt.Errorf("modelbank: %w", err)
	}
	return nil
}
