"""IMS registration with the card: the UE side of TS 24.229 REGISTER over TLS, with HTTP
Digest AKAv1-MD5 (RFC 3310). Modules: `digest` (challenge, nonce, response), `sip` (messages,
bounded reading, trace masking), `card` (identities and AUTHENTICATE over PC/SC or the
in-process engine), `register` (the flow, the trust check before any SIP byte), `tlscheck`
(should the UE trust this P-CSCF: its TLS certificate against the trust-domain rule, TS 33.203
Annex F)."""
