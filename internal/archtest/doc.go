// Package archtest holds the tests that keep bankgate's layering true:
// which packages may reach a bank connector, and what the transport may
// depend on. It has no code of its own.
package archtest
