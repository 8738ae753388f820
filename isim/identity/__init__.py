"""The IMS identities a card holds (IMPI, IMPU, home network domain) and the rules over them:
what a name may hold (`names`: domain names, NAIs, SIP/SIPS/tel URIs), the IMS trust-domain
naming rule (`trust`, docs/trust-rule.md), the identities derived from the IMSI (`from_imsi`,
TS 23.003 clause 13), and EF.IMPI/EF.IMPU/EF.DOMAIN/EF.P-CSCF decoded strictly and judged by
those rules (`files`). One policy, used by the profile checks, the card's write guard,
`isim inspect` and `isim trust-check`."""
