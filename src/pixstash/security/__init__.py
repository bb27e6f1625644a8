"""Guards on what comes in: the malware scanner, rate limits, the URL fetcher."""
