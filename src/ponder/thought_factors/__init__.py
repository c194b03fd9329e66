"""The thought-factor catalogue as data, prompt rendering, and parsing of tagged steps."""
