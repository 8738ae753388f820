"""eUICC Profile Packages (TCA "Interoperable Format", SAIP v3.x): export a card as a package,
import and check a package (docs/saip.md).

Modules: `asn` (specs/saip.asn compiled, the sqnInit DEFAULT handled), `layout`
(specs/saip.yaml typed), `package` (a package as PEs with their offsets; the order rules),
`files` (one file: FCP and content <-> `File` items), `export` (a card image -> PEs),
`fast` (the same bytes for a batch, batch-wide parts encoded once), `reader` (PEs -> the
card's files, PINs and keys), `extract` and `usim_keys` (-> a profile, an inspection
image), `convert` (the operations of the command line), `inspection` (`inspect --saip`).
"""
