"""Security: lockout, rate limits, headers, CSRF, tenant isolation, uploads, API keys."""
