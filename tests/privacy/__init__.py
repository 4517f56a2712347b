"""Privacy: encryption keys, reveal, export and erasure, masked logs, and proof tests."""
