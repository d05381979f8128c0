// Imported first by the TUI's app tests, before Ink (and its chalk) load: without a terminal,
// chalk would print no colour at all, and a test that colours vanish under NO_COLOR could not fail.
process.env['FORCE_COLOR'] = '1';
