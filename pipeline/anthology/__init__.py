"""The Anthology's own data, read and written faithfully: volume XML, the person registry,
snapshots and their cache, the curation (explicit ids and ORCIDs), and byte-exact patches.
Imports nothing from the other stages."""
