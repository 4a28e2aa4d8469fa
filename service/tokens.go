// Access tokens: the exchange of an access code, and delink.

package service

import (
	"context"
	"fmt"
	"maps"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

// ExchangeToken trades an access code for an access token. The app is
// authenticated by its secret (InvalidAppCredentials); the code must be
// the app's, for the connection, unused and unexpired (InvalidAccessCode
// otherwise, and a second exchange revokes the first one's token).
//
// With forwarded set (an exchange through SDK forwarding, whose token
// stays server-side), the token is marked so that later forwarded calls
// may name it by tokenID; an app that refuses forwarding gets BadRequest.
func (s *Service) ExchangeToken(ctx context.Context, appSecret, accessCode, connectionID string, forwarded bool) (*bankgate.Exchanged, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	if forwarded && !app.Forwarding {
		return nil, bankgate.Errorf(bankgate.BadRequest, "This app does not allow SDK forwarding (bankgate apps set --forwarding on).")
	}
	badCode := bankgate.Errorf(bankgate.InvalidAccessCode, "The access code is invalid, expired or already used.")
	if !secret.WellFormed(accessCode, secret.PrefixAccessCode, CodeBytes) || connectionID == "" || len(connectionID) > 128 {
		return nil, badCode
	}
	token := secret.Random(secret.PrefixAccessToken, TokenBytes)
	ex := &bankgate.Exchange{
		CodeDigest:   s.keys.Digest(domainCode, accessCode),
		AppID:        app.ID,
		ConnectionID: connectionID,
		Now:          s.Now(),
		Token:        bankgate.Token{Digest: s.keys.Digest(domainToken, token), Forwarded: forwarded},
	}
	err = s.store.ExchangeAccessCode(ctx, ex)
	if bankgate.IsCode(err, bankgate.InvalidAccessCode) {
		s.forgetCode(ex.CodeDigest)
		// A code issued before a key rotation has its digest under an
		// older key: try that (a reuse of it revokes as usual).
		for _, od := range s.keys.OtherDigests(domainCode, accessCode) {
			ex.CodeDigest, ex.Token = od, bankgate.Token{Digest: ex.Token.Digest, Forwarded: forwarded}
			if err = s.store.ExchangeAccessCode(ctx, ex); !bankgate.IsCode(err, bankgate.InvalidAccessCode) {
				break
			}
			s.forgetCode(od)
		}
	}
	if err != nil {
		if bankgate.IsCode(err, bankgate.InvalidAccessCode) {
			return nil, badCode
		}
		return nil, fmt.Errorf("exchange token: %w", err)
	}
	return &bankgate.Exchanged{AppKey: app.Key, AccessToken: token, TokenID: ex.Token.ID, UserID: ex.Token.UserID, ClientUserID: ex.ClientUserID}, nil
}

// forgetCode drops cached grants issued for an access code, so that a
// revocation for code reuse takes effect on this instance at once.
func (s *Service) forgetCode(codeDigest []byte) {
	s.forgetGrants(func(e *grantEntry) bool { return secret.Equal(e.codeDigest(), codeDigest) })
}

// forgetConnection drops cached grants of a connection.
func (s *Service) forgetConnection(connID string) {
	s.forgetGrants(func(e *grantEntry) bool { return e.connID() == connID })
}

// forgetGrants drops the cached grants drop picks.
func (s *Service) forgetGrants(drop func(*grantEntry) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.grants, func(_ grantKey, e *grantEntry) bool { return drop(e) })
}

// Delink ends the principal's connection: every token of it is revoked and
// later calls get UserDelinked.
func (s *Service) Delink(ctx context.Context, p *bankgate.Principal) error {
	s.delinkAtBank(ctx, p)
	if err := s.store.DelinkConnection(ctx, p.ConnectionID, s.Now()); err != nil {
		return fmt.Errorf("delink: %w", err)
	}
	s.forgetConnection(p.ConnectionID)
	return nil
}
