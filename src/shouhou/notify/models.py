"""The transactional outbox and its channels (PRODUCT.md §6)."""
