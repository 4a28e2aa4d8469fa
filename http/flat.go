package http

import (
	"strings"
	"unsafe"
)

// flatDecoder is a request type the fast path can fill: it returns the
// string field a JSON key names (matched as encoding/json does, exactly or
// ignoring ASCII case), or nil for a key it does not have.
type flatDecoder interface {
	flatField(key string) *string
}

// decodeFlat fills v from body when body is a flat JSON object whose
// values are all plain strings (no escapes, ASCII) or null, the shape of
// nearly every hot-path request. It returns false, having changed nothing
// the caller relies on, for anything else; the caller then decodes with
// encoding/json, which also produces the right error. FuzzDecodeFlat
// checks that both agree whenever this returns true.
func decodeFlat(body []byte, v flatDecoder) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipWS(body, i+1) == len(body)
	}
	type kv struct{ key, val []byte }
	var pairs [8]kv
	n := 0
	for {
		key, j, ok := plainString(body, i)
		if !ok {
			return false
		}
		j = skipWS(body, j)
		if j >= len(body) || body[j] != ':' {
			return false
		}
		j = skipWS(body, j+1)
		var val []byte
		isNull := false
		if j+4 <= len(body) && string(body[j:j+4]) == "null" {
			isNull, j = true, j+4
		} else if val, j, ok = plainString(body, j); !ok {
			return false
		}
		if !isNull {
			if n == len(pairs) {
				return false
			}
			pairs[n] = kv{key, val}
			n++
		}
		j = skipWS(body, j)
		if j >= len(body) {
			return false
		}
		if body[j] == '}' {
			if skipWS(body, j+1) != len(body) {
				return false
			}
			break
		}
		if body[j] != ',' {
			return false
		}
		i = skipWS(body, j+1)
	}
	// The values are copied into one string, each field a part of it;
	// keys are matched in place (flatField does not keep them).
	var fields [len(pairs)]*string
	size := 0
	for k, p := range pairs[:n] {
		if fields[k] = v.flatField(unsafeString(p.key)); fields[k] != nil {
			size += len(p.val)
		}
	}
	all := make([]byte, 0, size)
	for k, p := range pairs[:n] {
		if fields[k] != nil {
			all = append(all, p.val...)
		}
	}
	vals := unsafeString(all)
	off := 0
	for k, p := range pairs[:n] {
		if fields[k] != nil {
			*fields[k] = vals[off : off+len(p.val)]
			off += len(p.val)
		}
	}
	return true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] made only of printable ASCII
// without escapes, returning its contents and the index after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, i, false
		}
	}
	return nil, i, false
}

// match reports whether a JSON key names a field, as encoding/json matches
// (ASCII keys: exactly or ignoring case).
func match(key, name string) bool { return key == name || strings.EqualFold(key, name) }

// baseField is the flat-path field lookup of the base fields. It is a
// function, not a method, so that request types embedding baseRequest do
// not inherit a flatDecoder that ignores their own fields.
func baseField(b *baseRequest, key string) *string {
	switch {
	case match(key, "appSecret"):
		return &b.AppSecret
	case match(key, "userSecret"):
		return &b.UserSecret
	case match(key, "operationID"):
		return &b.OperationID
	case match(key, "tokenID"):
		return &b.TokenID
	}
	return nil
}

func (r *balanceRequest) flatField(key string) *string {
	switch {
	case match(key, "accountID"):
		return &r.AccountID
	case match(key, "cardID"):
		return &r.CardID
	}
	return baseField(&r.baseRequest, key)
}

func (r *transactionsRequest) flatField(key string) *string {
	switch {
	case match(key, "accountID"):
		return &r.AccountID
	case match(key, "cardID"):
		return &r.CardID
	case match(key, "fromDate"):
		return &r.FromDate
	case match(key, "toDate"):
		return &r.ToDate
	}
	return baseField(&r.baseRequest, key)
}

// flatBase adapts a bare baseRequest to the fast path.
type flatBase struct{ *baseRequest }

func (f flatBase) flatField(key string) *string { return baseField(f.baseRequest, key) }

// flatFor returns the fast-path decoder for the request types that have
// one, and nil for every other.
func flatFor(req any) flatDecoder {
	switch r := req.(type) {
	case *baseRequest:
		return flatBase{r}
	case *balanceRequest:
		return r
	case *transactionsRequest:
		return r
	}
	return nil
}

// unsafeString returns b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
