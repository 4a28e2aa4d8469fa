package sqlite

import (
	"errors"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bankgate/bankgate"
)

func isBusy(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isWriteRefused reports whether err is SQLite refusing a write for want
// of space (SQLITE_FULL: the disk, or max_page_count) or because the
// database is read-only (SQLITE_READONLY, a read-only file or file
// system), or the file system saying the same.
func isWriteRefused(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code() & 0xff
		if c == sqlite3.SQLITE_FULL || c == sqlite3.SQLITE_READONLY {
			return true
		}
	}
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT)
}

// classifyWrite marks a refused write (bankgate.ErrWriteRefused).
func classifyWrite(err error) error {
	if err != nil && isWriteRefused(err) {
		return bankgate.WriteRefused(err)
	}
	return err
}

func notFound(what string) error { return bankgate.Errorf(bankgate.NotFound, "%s not found", what) }
