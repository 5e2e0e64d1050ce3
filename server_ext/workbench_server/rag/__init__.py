"""RAG preparation: text cut into chunks, personal data redacted, vectors from an
embeddings API (the pipeline's ``rag`` step puts them together, see docs/rag.md).

Each module holds one role and imports nothing heavy: :mod:`.chunking` (windows of
characters or words with overlap, ids stable across runs), :mod:`.redaction` (e-mail
addresses, IBANs and phone numbers in free text) and :mod:`.embeddings` (an
OpenAI-compatible ``/embeddings`` client, batched and retried).
"""
