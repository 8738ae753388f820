"""The profile: one card's content as a YAML or JSON document, read and validated before
anything is built or written. `model` holds the `Profile` and its loading, `checks` the checks
of every key (formats, identities, the trust rule), `sizes` what the card's files can hold,
`checker` the problem-collecting building block of both, and `documents` the bounded, safe
reading of a YAML/JSON document (also used for personalization batches and templates). The
profile keys are a public contract (docs/profile.md)."""
