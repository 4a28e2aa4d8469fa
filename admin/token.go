package admin

// Token is the admin token as the server knows it: its ID, and a keyed
// digest of its value (never the value). Check compares in constant time.
type Token struct {
	// ID names the token in audit events; it is not secret.
	ID string
	// Digest is the token's keyed digest.
	Digest []byte
	// Verify reports whether value has the keyed digest d, comparing in
	// constant time (secret.Keyring.Verify, so that a digest made under
	// an older server key still verifies).
	Verify func(value string, d []byte) bool
}

// MaxTokenLen bounds a presented admin token.
const MaxTokenLen = 512

// Check returns the token's ID when presented is the admin token.
func (t *Token) Check(presented string) (string, bool) {
	if t == nil || t.Verify == nil || presented == "" || len(presented) > MaxTokenLen {
		return "", false
	}
	if !t.Verify(presented, t.Digest) {
		return "", false
	}
	return t.ID, true
}
