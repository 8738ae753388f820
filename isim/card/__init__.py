"""The card as a whole: which files it has and what bytes they hold (`contents`, from a
validated profile over specs/), the card image file (`image_format`: JSON and its SHA-256;
`image_shape`: its shape checked before use; `image_build`: an image from a profile and an
image as a running card; `image`: the import point of these and `load_card_source`), the ISIM
application plugged into the engine (`isim_app`: write guard, AUTHENTICATE, persistent state),
and the emulator's disk (`emulator`: a running image that persists each state change;
`statefile`: the locked, sealed state file)."""
