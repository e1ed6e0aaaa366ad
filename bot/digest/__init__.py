"""The daily digest in one place: what it says, how it is drawn, posting it once per channel and day."""
