"""`isim personalize`: a bureau's batch of cards, validated first, then written as card
images, APDU scripts and an HSS file (or onto real cards). See docs/personalize.md."""
