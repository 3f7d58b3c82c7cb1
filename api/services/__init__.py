"""The API's serving logic behind thin routes: answers (`recommend`), sessions, slots,
reasons, the catalogue's per-version arrays, rules reloading, experiments, intake, profiles."""
