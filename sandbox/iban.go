package sandbox

import "strings"

// ibanLengths holds the IBAN length of the countries bankgate is likely to
// meet, from the SWIFT IBAN registry. Other countries are checked only
// against ISO 13616's general bounds (15 to 34 characters).
var ibanLengths = map[string]int{
	"AE": 23, "SA": 24, "BH": 22, "KW": 30, "QA": 29, "JO": 30, "EG": 29,
	"GB": 22, "DE": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "CH": 21, "BE": 16,
}

// ValidIBAN reports whether s is a well-formed IBAN under ISO 13616: a
// two-letter country code, two check digits and an upper-case alphanumeric
// BBAN, of the registered length for the country where bankgate knows it,
// whose mod-97 remainder is 1. Spaces (the print format) are ignored; lower
// case letters are not accepted.
func ValidIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	if !isUpper(s[0]) || !isUpper(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	if n, ok := ibanLengths[s[:2]]; ok && len(s) != n {
		return false
	}
	for i := 4; i < len(s); i++ {
		if !isUpper(s[i]) && !isDigit(s[i]) {
			return false
		}
	}
	return ibanMod97(s[4:]+s[:4]) == 1
}

// makeIBAN returns the IBAN of the given country and BBAN, with its check
// digits computed.
func makeIBAN(country, bban string) string {
	check := 98 - ibanMod97(bban+country+"00")
	return country + string(rune('0'+check/10)) + string(rune('0'+check%10)) + bban
}

// ibanMod97 returns s mod 97 where letters count as 10 (A) to 35 (Z). The
// caller has checked that s holds only digits and upper-case letters.
func ibanMod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	return r
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
