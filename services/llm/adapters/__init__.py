"""Providers: the model SDKs (google-genai, openai) and the local offline provider."""
