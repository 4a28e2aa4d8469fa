// Package sandbox is bankgate's built-in sandbox bank connector: a handful
// of fictional banks in the United Arab Emirates and Saudi Arabia whose
// users, accounts, cards and transactions are generated deterministically
// from the bank and the username, whose logins act out fixed scenarios
// (MFA, lockout, bank errors), and which serve the whole Dapi v2 data and
// payment API: balances, transactions by date range, cards, metadata,
// beneficiaries with a cool-down, transfers that move money (between
// sandbox users too), US wire transfers and ACH pulls. Tests, demos and
// users' own CI run against it.
//
// # Login scenarios
//
// Identical at every sandbox bank (password PasswordGood unless said
// otherwise):
//
//   - UserGood, UserTransferMFA, UserDataMFA, UserEmpty and any other
//     username log in without MFA. UserEmpty has no accounts and no cards,
//     so its payments fail with INVALID_ACCOUNT_ID.
//   - UserMFA asks for a one-time password ("otp", AnswerOTP).
//   - UserMultiMFA asks a secret question ("secret_question", index 0,
//     AnswerSecretQuestion) and a PIN ("pin", index 1, AnswerPIN) at once.
//   - A username "error_<TYPE>" fails with that error type if TYPE is one
//     of bankgate.Codes, else with INVALID_CREDENTIALS.
//   - Any other password fails with INVALID_CREDENTIALS. After
//     MaxFailedLogins failures in a row for one username at one bank, every
//     login of that username fails with ACCOUNT_LOCKED for LockoutDuration.
//     (These counters live in memory, per process.)
//
// # Calls that ask for input
//
// UserTransferMFA is asked a code ("otp", AnswerOTP) before every
// Transfer, TransferAutoflow, WireTransfer, WireTransferAutoflow,
// CreateBeneficiary and CreateWireBeneficiary: the first call answers with
// a Challenge whose State holds the request; the resume (call.State and
// call.Answers set) carries out the request the State holds, whatever the
// resume's own arguments, or fails with INVALID_MFA for a wrong answer.
// UserDataMFA is asked a one-time password once per Accounts and
// Transactions call. Other reads never ask for input.
//
// # Generated data
//
// Generated data is the same on every machine. Ledgers start on 2023-01-01
// with a deterministic opening balance and follow a calendar schedule, so a
// transaction on a given date is the same whatever the clock says; as the
// clock (call.Now, else Options.Now) advances new transactions appear.
// Transactions can be read back as far as the bank's transactionRange
// (see Metadata; at least 365 days).
//
// # Payments and persistence
//
// Every app has its own sandbox world: what users do belongs to the app
// their connection or login is for (bank.Session.AppID,
// bank.LoginRequest.AppID), and the same username under two apps is two
// users that start from the same data. It is kept in the event streams
// of Options.Store (an in-memory log when nil), one JSON event per line
// of history:
//
//   - sandbox/<appID>/<bankID>/<username>: the user's events, with "type"
//     beneficiary, wire_beneficiary, transfer, credit (money another
//     sandbox user sent, keyed by the transfer reference and applied once),
//     delivered (a transfer's credit reached its receiver) and ach_pull.
//   - sandbox-iban/<appID>/<IBAN>: who holds a sandbox IBAN in the app's
//     world ({"bank", "user", "account", "currency"}; the last event
//     wins). A generated user's IBANs are registered when its data is
//     first built; a fixture's IBANs take over.
//   - sandbox-fixture/<bankID>/<username>: the versions of an operator's
//     fixture, a template for every app's world; the last wins. The
//     password and MFA answers are not in them: only salted PBKDF2-SHA256
//     hashes ("passwordHash", "answerHash"; see Fixtures).
//   - sandbox-fixture/<appID>/<bankID>/<username>: the versions of a
//     fixture an app made for its own world (CreateSandboxUser), which wins
//     over the template; a version "null" deletes it.
//   - sandbox-users/<appID>: the list of the users an app made
//     ({"bank", "user", "deleted"}).
//
// A user's state is its base data (generated, or its fixture's) plus its
// events in order, so a restart on the same store, or another instance,
// sees the same balances, transactions and beneficiaries. Each write
// appends at the next seq of the stream after catching up, and on a
// conflict catches up and checks again, so concurrent payments from one
// account never overdraw it. A transfer to a sandbox IBAN is recorded in
// the sender's stream, then credited in the receiver's and marked
// delivered; if the process stops in between, the next use of the sender
// delivers it.
//
// Reads (Identity, Accounts, Balance, Transactions, the card calls,
// Beneficiaries, WireBeneficiaries, ACHPull) are answered from the user's
// state in memory, without reading the store, while that state was caught
// up with the store less than Options.ReadStaleness ago (by the clock:
// call.Now, else Options.Now; DefaultReadStaleness, 500 ms, the bound
// bankgate's token cache keeps across instances). So a payment made
// through another bankgate instance on the same store shows in this
// instance's reads within that bound, while one made through this
// instance shows at once: writes (payments, beneficiaries, ACH pulls,
// fixtures) always catch up with the store first and update the state in
// memory.
//
// Payment rules: transfers are in the sender account's currency, between
// the bank's minimum for the beneficiary type (same 1, local 1, intl 10)
// and 100,000; more than the balance (for a credit account, the available
// credit) fails with INSUFFICIENT_BALANCE. A new beneficiary is active
// after the bank's beneficiaryCoolDownPeriod (4 to 6 hours at the AE
// banks, 12 to 24 at the SA banks); before that, transfers to it fail with
// BENEFICIARY_COOL_DOWN_PERIOD and the hours left in the error's
// coolDownPeriod. Beneficiaries created by an autoflow call are exempt.
//
// # Fixtures
//
// Operators add their own sandbox users with Connector.AddFixture or
// Connector.LoadFixtureDir (every *.json file of a directory, each one fixture
// object or an array of them). A fixture user logs in with its own
// password (and its MFA prompts, if any, all asked at once), and its
// identity, accounts and transactions are exactly the fixture's plus the
// payments it makes or receives. It takes precedence over the generated
// user of the same name.
//
// Fixture passwords and MFA answers are never kept in clear, in the store
// or in memory: AddFixture replaces each by a salted slow hash,
// pbkdf2-sha256$<iterations>$<salt>$<hash> (PBKDF2-HMAC-SHA256, a random
// 16-byte salt per value, 25,000 iterations: about 3.5 ms a check, paid
// only by fixture logins and AddFixture); a fixture given with
// "passwordHash" or "answerHash" is refused. Adding a fixture again with
// the same data, password and answers adds no version. A version stored in
// clear by an older bankgate still works and is replaced by a hashed one
// the next time the fixture is added (the old version stays in the
// stream). The format (see testdata/fixture_example.json):
//
//	{
//	  "bankID": "SANDBOX_AE_ENBD",            // required unless given to AddFixture
//	  "username": "alice",                    // required; no spaces or slashes
//	  "password": "alice-pass",               // required
//	  "mfa": [                                // optional; indexes 0, 1, ... in order
//	    {"id": "otp", "index": 0, "query": "Enter the code", "answer": "999999"}
//	  ],                                      // id: otp secret_question captcha pin confirmation token
//	  "identity": {                           // name required; the rest optional
//	    "name": "Alice Example", "nationality": "UNITED KINGDOM",
//	    "dateOfBirth": "1990-04-01", "emailAddress": "alice@example.com",
//	    "numbers": [{"type": "mobile", "value": "+971501234567"}],
//	    "address": {"flat": "", "building": "", "full": "", "area": "", "poBox": "",
//	                "city": "", "state": "", "country": "", "zipCode": ""},
//	    "identification": [{"type": "passport", "value": "X1234567"}]
//	  },
//	  "accounts": [{
//	    "id": "optional; derived from bank, username and position if absent",
//	    "name": "Main",                       // required
//	    "type": "current",                    // current savings loan credit deposit other; default current
//	    "currency": "AED",                    // default: the bank's
//	    "iban": "optional; generated (valid, at this bank) if absent, except for credit accounts",
//	    "number": "optional account number, digits",
//	    "openingBalance": 1000.50,            // at most two decimals
//	    "transactions": [{
//	      "date": "2026-01-05",               // YYYY-MM-DD (midnight UTC) or RFC 3339
//	      "amount": 250.00,                   // positive, at most two decimals
//	      "type": "debit",                    // credit or debit
//	      "description": "Carrefour",         // required
//	      "details": "optional, default: the description in upper case",
//	      "category": "optional, default Other",
//	      "reference": "optional, unique within the account",
//	      "brandName": "optional", "brandLogo": "optional URL"
//	    }]
//	  }],
//	  "beneficiaries": [                      // optional; active from the start
//	    {"name": "Bob", "iban": "AE...", "accountNumber": "", "type": "local"}
//	  ]
//	}
//
// Unknown fields are errors. Transactions are chained from the opening
// balance in date order; those dated after the clock appear when it
// passes them.
package sandbox
