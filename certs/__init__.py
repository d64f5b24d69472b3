"""District PKI tooling (certificate authority, enrollment, revocation): see issue 7."""
