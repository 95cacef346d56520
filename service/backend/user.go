package backend

import "github.com/gatehouse/gatehouse/service/internal/identity"

// User is whom a backend keeps data for: the verified token's issuer and
// subject, together. Key everything you store per user by User, never by
// the subject (uid) alone: sub is unique only within its issuer. The
// gateway accepts several issuers (Firebase Authentication, and machine
// clients under gatehouse:serviceAccountIssuers, which sign their own
// tokens and may put any Firebase user's uid in sub), so a subject alone
// would let one issuer's caller reach another issuer's user's data.
type User struct {
	Issuer, Subject string
}

// UserOf is the User of a verified identity.
func UserOf(id identity.Identity) User { return User{Issuer: id.Issuer, Subject: id.UID} }
