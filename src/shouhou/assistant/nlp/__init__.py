"""The assistant's models: intent, sentiment, triage (PRODUCT.md §3), all offline."""
