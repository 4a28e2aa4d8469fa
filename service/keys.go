package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

// ErrKeyMismatch is wrapped by the errors CheckKeys returns when the
// configured server keys do not match the store.
var ErrKeyMismatch = errors.New("server keys do not match the store")

// CheckKeys compares the server keys of a keyring with the check values
// the store keeps, and records the check values of keys the store does not
// know yet. It fails (ErrKeyMismatch) when a key's check value differs
// (the wrong key file: every token, appSecret and userSecret would be
// refused), when a key in use was retired in the store, or when the store
// knows a key in use that the keyring lacks (values made with it would be
// refused).
func CheckKeys(ctx context.Context, store bankgate.Store, keys *secret.Keyring, now time.Time) error {
	return checkKeys(ctx, store, keys, now, 3)
}

func checkKeys(ctx context.Context, store bankgate.Store, keys *secret.Keyring, now time.Time, tries int) error {
	known, err := store.ServerKeys(ctx)
	if err != nil {
		return fmt.Errorf("read server keys: %w", err)
	}
	byID := map[string]bankgate.ServerKey{}
	for _, k := range known {
		byID[k.ID] = k
	}
	for _, k := range keys.Keys() {
		check := secret.CheckValue(k)
		row, ok := byID[k.ID]
		if !ok {
			sk := &bankgate.ServerKey{ID: k.ID, Check: check, CreatedAt: now}
			if k.Retired {
				sk.RetiredAt = now
			}
			err := store.AddServerKey(ctx, sk)
			if bankgate.IsCode(err, bankgate.Conflict) && tries > 1 {
				// Another instance recorded it first: compare with its row.
				return checkKeys(ctx, store, keys, now, tries-1)
			}
			if err != nil {
				return fmt.Errorf("record server key %s: %w", k.ID, err)
			}
			continue
		}
		delete(byID, k.ID)
		if !secret.Equal(row.Check, check) {
			return fmt.Errorf("%w: key %s is not the key %s this store was set up with (its check value differs); "+
				"a server with it would refuse every token, appSecret and userSecret. Start with the key file that holds the store's key %s",
				ErrKeyMismatch, k.ID, k.ID, k.ID)
		}
		if !row.RetiredAt.IsZero() && !k.Retired {
			return fmt.Errorf("%w: key %s was retired on %s; remove it from the key file (or mark the original key k1 \"retired\")",
				ErrKeyMismatch, k.ID, row.RetiredAt.Format(time.RFC3339))
		}
	}
	for id, row := range byID {
		if row.RetiredAt.IsZero() {
			return fmt.Errorf("%w: the store has server key %s, which the key file lacks; values made with it would be refused. "+
				"Start with the key file `bankgate keys rotate` wrote", ErrKeyMismatch, id)
		}
	}
	return nil
}

// KeyStatus is one server key: where it is known and what depends on it.
type KeyStatus struct {
	ID        string
	Primary   bool
	Staged    bool // newer than the primary, verifying only
	Retired   bool // in the store (or marked so in the key file)
	InKeyring bool
	CreatedAt time.Time
	Usage     bankgate.KeyUsage
}

func selector(id string) bankgate.KeySelector {
	p, n := secret.DigestSelector(id)
	return bankgate.KeySelector{Prefix: p, Size: n}
}

// KeysStatus returns every server key of the keyring (newest first) and
// then those only the store knows, with how many stored values each still protects.
func KeysStatus(ctx context.Context, store bankgate.Store, keys *secret.Keyring, now time.Time) ([]KeyStatus, error) {
	known, err := store.ServerKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []KeyStatus
	index := map[string]int{}
	for _, k := range keys.Keys() {
		index[k.ID] = len(out)
		out = append(out, KeyStatus{ID: k.ID, Primary: k.ID == keys.Primary(), Staged: k.Staged, Retired: k.Retired, InKeyring: true})
	}
	for _, k := range known {
		i, ok := index[k.ID]
		if !ok {
			i = len(out)
			out = append(out, KeyStatus{ID: k.ID})
		}
		out[i].CreatedAt = k.CreatedAt
		out[i].Retired = out[i].Retired || !k.RetiredAt.IsZero()
	}
	for i := range out {
		if out[i].Retired {
			continue
		}
		if out[i].Usage, err = store.KeyUsage(ctx, selector(out[i].ID), now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NextKeyID returns the ID for a new server key: k<n+1> for the highest n
// among the keyring's and the store's keys.
func NextKeyID(ctx context.Context, store bankgate.Store, keys *secret.Keyring) (string, error) {
	known, err := store.ServerKeys(ctx)
	if err != nil {
		return "", err
	}
	ids := []string{}
	for _, k := range keys.Keys() {
		ids = append(ids, k.ID)
	}
	for _, k := range known {
		ids = append(ids, k.ID)
	}
	n := 1
	for _, id := range ids {
		if v, err := strconv.Atoi(strings.TrimPrefix(id, "k")); err == nil && strings.HasPrefix(id, "k") && v > n {
			n = v
		}
	}
	return "k" + strconv.Itoa(n+1), nil
}

// RetireKey retires server key id in the store. It refuses the primary
// key, and, unless force, a key that stored values still depend on
// (Conflict, with the usage returned); force invalidates them (see
// bankgate.Store.RetireServerKey).
func RetireKey(ctx context.Context, store bankgate.Store, keys *secret.Keyring, id string, force bool, now time.Time) (bankgate.KeyUsage, error) {
	if id == keys.Primary() {
		return bankgate.KeyUsage{}, bankgate.Errorf(bankgate.ParameterError, "key %s is the primary key; make another key primary first (keys rotate, or keys promote)", id)
	}
	if !slices.ContainsFunc(keys.Keys(), func(k secret.Key) bool { return k.ID == id }) {
		return bankgate.KeyUsage{}, bankgate.Errorf(bankgate.NotFound, "key %s is not in the key file", id)
	}
	if err := resealWebhookKeys(ctx, store, keys, id, now); err != nil {
		return bankgate.KeyUsage{}, err
	}
	return store.RetireServerKey(ctx, id, selector(id), now, force)
}

// errUnchanged ends an update that has nothing to change.
var errUnchanged = errors.New("unchanged")

// resealWebhookKeys seals again under the primary every app's webhook
// keys that key id sealed, so that retiring id loses none of them.
func resealWebhookKeys(ctx context.Context, store bankgate.Store, keys *secret.Keyring, id string, now time.Time) error {
	apps, err := store.ListApps(ctx)
	if err != nil {
		return err
	}
	for _, app := range apps {
		ep, err := store.WebhookEndpoint(ctx, app.ID)
		if bankgate.IsCode(err, bankgate.NotFound) || (err == nil && (ep.Keys == nil || keys.KeyOf(ep.Keys) != id)) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = store.UpdateWebhookEndpoint(ctx, app.ID, now, func(ep *bankgate.WebhookEndpoint) error {
			if ep.Keys == nil || keys.KeyOf(ep.Keys) != id {
				return errUnchanged
			}
			plain, err := keys.Open(app.ID, sealWebhookKeys, ep.Keys)
			if err != nil {
				return fmt.Errorf("open app %s's webhook keys: %w", app.ID, err)
			}
			ep.Keys, err = keys.Seal(app.ID, sealWebhookKeys, plain)
			return err
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			return err
		}
	}
	return nil
}
